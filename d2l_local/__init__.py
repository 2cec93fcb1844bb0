# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""d2l_local: the code of the book, one module per chapter, in reading order (generated).

``import d2l_local as d2l`` gives every chapter's public names; where a later chapter redefines a
name, ``d2l.name`` is the later definition."""

from .ch01_encoder_decoder import *  # noqa: F401,F403  notebooks/01_encoder_decoder.ipynb
from .ch02_translation_corpus import *  # noqa: F401,F403  notebooks/02_translation_corpus.ipynb
from .ch03_minibatches_and_splits import *  # noqa: F401,F403  notebooks/03_minibatches_and_splits.ipynb
from .ch04_encoder import *  # noqa: F401,F403  notebooks/04_encoder.ipynb
from .ch05_decoder import *  # noqa: F401,F403  notebooks/05_decoder.ipynb
from .ch06_masking_and_loss import *  # noqa: F401,F403  notebooks/06_masking_and_loss.ipynb
from .ch07_training import *  # noqa: F401,F403  notebooks/07_training.ipynb
from .ch09_prediction_and_evaluation import *  # noqa: F401,F403  notebooks/09_prediction_and_evaluation.ipynb
from .ch10_attention_pooling import *  # noqa: F401,F403  notebooks/10_attention_pooling.ipynb
from .ch11_attention_scoring import *  # noqa: F401,F403  notebooks/11_attention_scoring.ipynb
from .ch12_bahdanau_attention import *  # noqa: F401,F403  notebooks/12_bahdanau_attention.ipynb
from .ch13_multihead_attention import *  # noqa: F401,F403  notebooks/13_multihead_attention.ipynb
from .ch14_transformer import *  # noqa: F401,F403  notebooks/14_transformer.ipynb
from .ch16_training_recipe import *  # noqa: F401,F403  notebooks/16_training_recipe.ipynb
from .ch17_subwords import *  # noqa: F401,F403  notebooks/17_subwords.ipynb
from .ch18_zh_en_translator import *  # noqa: F401,F403  notebooks/18_zh_en_translator.ipynb
from .ch19_appendix_data_tools import *  # noqa: F401,F403  notebooks/19_appendix_data_tools.ipynb
from .ch20_appendix_training_tools import *  # noqa: F401,F403  notebooks/20_appendix_training_tools.ipynb
from .ch21_appendix_display_tools import *  # noqa: F401,F403  notebooks/21_appendix_display_tools.ipynb

from . import (
    ch01_encoder_decoder,
    ch02_translation_corpus,
    ch03_minibatches_and_splits,
    ch04_encoder,
    ch05_decoder,
    ch06_masking_and_loss,
    ch07_training,
    ch09_prediction_and_evaluation,
    ch10_attention_pooling,
    ch11_attention_scoring,
    ch12_bahdanau_attention,
    ch13_multihead_attention,
    ch14_transformer,
    ch16_training_recipe,
    ch17_subwords,
    ch18_zh_en_translator,
    ch19_appendix_data_tools,
    ch20_appendix_training_tools,
    ch21_appendix_display_tools,
)

# Every chapter's public names, in reading order (each once).
__all__ = list(dict.fromkeys(name for chapter in (
    ch01_encoder_decoder,
    ch02_translation_corpus,
    ch03_minibatches_and_splits,
    ch04_encoder,
    ch05_decoder,
    ch06_masking_and_loss,
    ch07_training,
    ch09_prediction_and_evaluation,
    ch10_attention_pooling,
    ch11_attention_scoring,
    ch12_bahdanau_attention,
    ch13_multihead_attention,
    ch14_transformer,
    ch16_training_recipe,
    ch17_subwords,
    ch18_zh_en_translator,
    ch19_appendix_data_tools,
    ch20_appendix_training_tools,
    ch21_appendix_display_tools,
) for name in chapter.__all__))
