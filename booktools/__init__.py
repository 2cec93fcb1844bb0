"""Tools that build and check the book (not part of the d2l_local package)."""
