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
from .ch02_machine_translation_data import *  # noqa: F401,F403  notebooks/02_machine_translation_data.ipynb
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
from .ch17_subwords import *  # noqa: F401,F403  notebooks/17_subwords.ipynb
from .ch21_appendix_display_tools import *  # noqa: F401,F403  notebooks/21_appendix_display_tools.ipynb

__all__ = [
    'Encoder',
    'Decoder',
    'EncoderDecoder',
    'FRA_ENG_URL',
    'FRA_ENG_SHA1',
    'DataError',
    'cache_dir',
    'download',
    'extract_zip',
    'find_fra_eng',
    'read_data_nmt',
    'preprocess_nmt',
    'tokenize_nmt',
    'Vocab',
    'truncate_pad',
    'build_array_nmt',
    'load_array',
    'load_data_nmt',
    'split_nmt',
    'load_data_nmt_split',
    'DATE_FORMATS',
    'FIRST_DATE',
    'LAST_DATE',
    'format_date',
    'date_split',
    'make_date_pairs',
    'tokenize_dates',
    'load_data_dates',
    'Seq2SeqEncoder',
    'Seq2SeqDecoder',
    'sequence_mask',
    'MaskedSoftmaxCELoss',
    'grad_clipping',
    'xavier_init_weights',
    'try_gpu',
    'Timer',
    'Accumulator',
    'Animator',
    'CheckpointError',
    'CHECKPOINT_FORMAT',
    'save_checkpoint',
    'load_checkpoint',
    'TrainResult',
    'train_seq2seq',
    'check_vocabs',
    'prepare_source',
    'eval_mode',
    'predict_seq2seq',
    'bleu',
    'ngram_counts',
    'corpus_bleu',
    'group_references',
    'predict_seq2seq_beam',
    'show_heatmaps',
    'masked_softmax',
    'check_attention_inputs',
    'AdditiveAttention',
    'DotProductAttention',
    'AttentionDecoder',
    'Seq2SeqAttentionDecoder',
    'transpose_qkv',
    'transpose_output',
    'MultiHeadAttention',
    'PositionalEncoding',
    'PositionWiseFFN',
    'AddNorm',
    'EncoderBlock',
    'TransformerEncoder',
    'DecoderBlock',
    'TransformerDecoder',
    'CMN_ENG_FILE',
    'CMN_ENG_SHA256',
    'CMN_ENG_ATTRIBUTION',
    'cmn_eng_path',
    'read_data_cmn',
    'parse_cmn',
    'to_simplified',
    'normalize_zh',
    'normalize_en',
    'preprocess_cmn',
    'split_cmn',
    'SPACE_MARK',
    'Tokenizer',
    'WordTokenizer',
    'CharTokenizer',
    'JiebaTokenizer',
    'split_words',
    'merge_pair',
    'count_pairs',
    'learn_bpe',
    'BPETokenizer',
    'CHINESE_FONT_FILE',
    'use_chinese_font',
    'CHINESE_FONT_NAME',
]
