/* kernels/all.h: every kernel family, included by dlrt_kernels.h once per
 * precision (no include guard, on purpose). A new family is a new
 * runtime/kernels/NAME.h and one line here. */
#include "kernels/softmax.h"   /* first: loss.h uses its row helpers */
#include "kernels/loss.h"
#include "kernels/likelihood.h"  /* bce, nll, poisson_nll, gaussian_nll, sample_normal, kl_normal */
#include "kernels/dropout.h"
#include "kernels/bias.h"
#include "kernels/geometry.h" /* shapes and workspace sizes (include guard: once) */
#include "kernels/conv.h"     /* after bias.h: adds its bias with bias_forward */
#include "kernels/pool.h"
#include "kernels/norm.h"
#include "kernels/upsample.h"
#include "kernels/augment.h"
#include "kernels/dense.h"    /* dense's forward: SMALL (few rows, no GEMM) or GEMM, by n; before rnn.h: its steps at n = 1 run SMALL */
#include "kernels/rnn.h"      /* nn.RNN, nn.LSTM, nn.GRU: one direction, one layer */
#include "kernels/sequence.h" /* embedding, one_hot: class indices into reals */
#include "kernels/broadcast.h" /* + - * with broadcasting */
#include "kernels/penalty.h"   /* l1_penalty, l2_penalty, mean */
#include "kernels/mask.h"     /* sparse connectivity masks: dense and conv density < 1 */
#include "kernels/activation.h" /* relu, leaky_relu, sigmoid, tanh */
