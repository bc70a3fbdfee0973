"""lstmlab: hand-written RNN, LSTM and GRU cells in pure NumPy.

Every forward has an explicit backward, and every backward is proven by a
numerical gradient check. Read ``lstmlab/lstm.py`` next to ``docs/lstm.md``.
"""

from . import corpus as corpus  # the module ll.corpus: stdlib_docstrings, read_ptb, ...
from . import data as data  # the module ll.data: Vocab, bptt_batches, ...
from .attention import Attention
from .clip import clip_grad_norm, clip_grad_value
from .clockwork import ClockworkRNN
from .decoding import beam_search, greedy_decode
from .dropout import Dropout
from .embedding import Embedding
from .functional import drelu, dsigmoid, dtanh, log_softmax, relu, sigmoid, softmax, tanh
from .gradcheck import (
    GradReport,
    check_cell,
    check_gradients,
    check_layer,
    numerical_gradient,
    rel_error,
)
from .gru import GRUCache, GRUCell
from .io import load, load_extra, save
from .language_model import LanguageModel
from .layers import GRU, LSTM, RNN
from .linear import Linear
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse, nll_loss
from .lstm import LSTMCache, LSTMCell, LSTMGateState, LSTMState
from .many_to_one import ManyToOne
from .metrics import accuracy, bits_per_char, perplexity
from .model import Model
from .modes import check_finite, detect_anomaly, is_anomaly_enabled, is_grad_enabled, no_grad
from .module import Module
from .optim import SGD, Adagrad, Adam, Optimizer, RMSprop
from .progress import Progress
from .recurrent import Recurrent
from .rnn import RNNCache, RNNCell
from .sampling import sample
from .schedule import CosineLR, StepLR
from .seq2seq import Seq2Seq

__version__ = "0.1.0"

__all__ = [
    "Module",
    "no_grad", "detect_anomaly", "is_grad_enabled", "is_anomaly_enabled", "check_finite",
    "RNNCell", "RNNCache",
    "LSTMCell", "LSTMState", "LSTMGateState", "LSTMCache",
    "GRUCell", "GRUCache",
    "Recurrent", "RNN", "LSTM", "GRU", "ClockworkRNN",
    "sigmoid", "dsigmoid", "tanh", "dtanh", "relu", "drelu", "softmax", "log_softmax",
    "numerical_gradient", "rel_error", "GradReport", "check_gradients", "check_cell", "check_layer",
    "Linear", "Embedding",
    "Attention", "Seq2Seq", "greedy_decode", "beam_search",
    "cross_entropy", "nll_loss", "mse", "binary_cross_entropy_with_logits",
    "Model", "ManyToOne", "LanguageModel",
    "Optimizer", "SGD", "Adam", "Adagrad", "RMSprop", "StepLR", "CosineLR",
    "clip_grad_norm", "clip_grad_value",
    "save", "load", "load_extra",
    "perplexity", "bits_per_char", "accuracy",
    "Progress",
    "Dropout", "sample",
]
