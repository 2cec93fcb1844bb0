"""Automatic checks for the book's coding exercises (练习), one module per chapter.

Hand-written (unlike the generated ``d2l_local``), installed with it. A chapter's exercise cells use
them like this::

    from d2l_exercises import ch06 as checks

    def masked_mean(X, valid_len):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    ok = checks.masked_mean(masked_mean)

Every check prints one short verdict in Chinese and returns ``True`` or ``False``; it never raises
because of the student's code: an unfinished scaffold (``NotImplementedError``) is reported as not
done yet, an exception as its type, message and the line of the student's code, a wrong answer as
the input it was tried on, what was expected, what came back, and a hint. See ``core``.
"""
