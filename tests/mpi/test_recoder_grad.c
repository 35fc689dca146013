/* Recoder: the loss against a direct evaluation of its formula, every weight's
 * gradient against finite differences (FP64, both losses, three activations,
 * two hidden layers, input dropout at a fixed step), the sampled items
 * (outputs of items no batch user has get no gradient), and the first Adam
 * step. Runs on any number of ranks: the users are split over them as in
 * `train --model recoder`. */
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "infae/core/log.h"
#include "infae/core/rng.h"
#include "infae/io/dataset.h"
#include "infae/models/recoder.h"

enum { USERS = 10, D = 13, H1 = 5, H2 = 4 };
static const int64_t batch[] = {0, 2, 3, 5, 7, 9};
enum { NB = 6 };

typedef struct {
  int rank, size;
  uint8_t x[USERS][D]; /* the whole 0/1 matrix, the same on every rank */
  ia_csr local;        /* this rank's rows */
  int64_t begin;
  ia_backend *be;
} fixture;

static void make_data(fixture *f) {
  MPI_Comm_rank(MPI_COMM_WORLD, &f->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &f->size);
  ia_rng r;
  ia_rng_init(&r, 7, IA_RNG_GENERATE, 0);
  memset(f->x, 0, sizeof f->x);
  for (int u = 0; u < USERS; u++) {
    for (int i = 0; i < D - 2; i++) f->x[u][i] = ia_rng_uniform(&r) < 0.3; /* the last 2: never */
    f->x[u][u % (D - 2)] = 1;
  }
  int64_t n;
  ia_partition(USERS, f->size, f->rank, &f->begin, &n);
  int64_t nnz = 0;
  for (int64_t u = f->begin; u < f->begin + n; u++)
    for (int i = 0; i < D; i++) nnz += f->x[u][i];
  assert_int_equal(ia_csr_alloc(&f->local, n, D, nnz), IA_OK);
  int64_t e = 0;
  f->local.indptr[0] = 0;
  for (int64_t u = 0; u < n; u++) {
    for (int i = 0; i < D; i++)
      if (f->x[f->begin + u][i]) f->local.indices[e++] = i;
    f->local.indptr[u + 1] = e;
  }
  assert_int_equal(ia_backend_open(MPI_COMM_WORLD, IA_DEVICE_CPU, &f->be), IA_OK);
}

static void free_data(fixture *f) {
  ia_csr_free(&f->local);
  ia_backend_close(&f->be);
}

static ia_recoder *make(fixture *f, ia_act act, ia_loss loss, double dropout) {
  ia_recoder_opts o = {.hidden = {H1, H2},
                       .n_hidden = 2,
                       .act = act,
                       .loss = loss,
                       .dropout = dropout,
                       .confidence = 0.7,
                       .lr = 0.01,
                       .seed = 5};
  ia_recoder *m = NULL;
  assert_int_equal(ia_recoder_create(MPI_COMM_WORLD, f->be, &o, D, USERS, &m), IA_OK);
  /* Non-zero biases, so that their gradients are exercised. */
  int64_t np = ia_recoder_n_params(m);
  double *w = malloc(sizeof(double) * (size_t)np);
  assert_int_equal(ia_recoder_get_params(m, w), IA_OK);
  ia_rng r;
  ia_rng_init(&r, 11, IA_RNG_GENERATE, 1);
  for (int64_t e = 0; e < np; e++) w[e] += 0.1 * (2 * ia_rng_uniform(&r) - 1);
  assert_int_equal(ia_recoder_set_params(m, w), IA_OK);
  free(w);
  return m;
}

static double loss_at(ia_recoder *m, const ia_recoder_data *x, const double *w, int64_t step) {
  double l = 0;
  assert_int_equal(ia_recoder_set_params(m, w), IA_OK);
  assert_int_equal(ia_recoder_loss_grad(m, x, batch, NB, step, &l, NULL), IA_OK);
  return l;
}

static double act_of(ia_act a, double v) {
  if (a == IA_ACT_TANH) return tanh(v);
  if (a == IA_ACT_SIGMOID) return 1 / (1 + exp(-v));
  if (a == IA_ACT_RELU) return v > 0 ? v : 0;
  return v;
}

/* The loss from its definition, without dropout: mean over the batch of the
 * loss over the items some batch user has. */
static double direct_loss(const fixture *f, const double *w, ia_act act, ia_loss loss) {
  const int n[] = {D, H1, H2, D};
  int sampled[D] = {0};
  for (int k = 0; k < NB; k++)
    for (int i = 0; i < D; i++) sampled[i] |= f->x[batch[k]][i];
  double total = 0;
  for (int k = 0; k < NB; k++) {
    double a[D], z[D];
    for (int i = 0; i < D; i++) a[i] = f->x[batch[k]][i];
    int64_t at = 0;
    for (int l = 1; l <= 3; l++) {
      const double *W = w + at, *b = w + at + n[l - 1] * n[l];
      for (int j = 0; j < n[l]; j++) {
        z[j] = b[j];
        for (int i = 0; i < n[l - 1]; i++) z[j] += a[i] * W[i + j * n[l - 1]];
      }
      for (int j = 0; j < n[l]; j++) a[j] = l < 3 ? act_of(act, z[j]) : z[j];
      at += n[l - 1] * n[l] + n[l];
    }
    double mx = -1e300, se = 0, l = 0;
    for (int i = 0; i < D; i++)
      if (sampled[i] && a[i] > mx) mx = a[i];
    for (int i = 0; i < D; i++)
      if (sampled[i]) se += exp(a[i] - mx);
    for (int i = 0; i < D; i++) {
      if (!sampled[i]) continue;
      double t = f->x[batch[k]][i], wt = 1 + 0.7 * t;
      l += loss == IA_LOSS_MSE ? wt * (a[i] - t) * (a[i] - t) : -wt * t * (a[i] - mx - log(se));
    }
    total += l;
  }
  return total / NB;
}

static void check(ia_act act, ia_loss loss, int dense) {
  fixture f;
  make_data(&f);
  double *rows = NULL;
  ia_recoder_data x = {.n_users = USERS, .d = D, .rows = &f.local, .row_begin = f.begin};
  if (dense) {
    /* Values in (0, 1] where the user has the item, zero elsewhere. */
    rows = calloc(USERS * D, sizeof(double));
    ia_rng r;
    ia_rng_init(&r, 3, IA_RNG_GENERATE, 2);
    for (int u = 0; u < USERS; u++)
      for (int i = 0; i < D; i++) rows[u * D + i] = f.x[u][i] ? 0.2 + 0.8 * ia_rng_uniform(&r) : 0;
    x = (ia_recoder_data){.n_users = USERS, .d = D, .dense = rows};
  }
  ia_recoder *m = make(&f, act, loss, 0.0);
  int64_t np = ia_recoder_n_params(m);
  double *w = malloc(sizeof(double) * (size_t)np), *g = malloc(sizeof(double) * (size_t)np);
  assert_int_equal(ia_recoder_get_params(m, w), IA_OK);
  double l0 = 0;
  assert_int_equal(ia_recoder_loss_grad(m, &x, batch, NB, 1, &l0, g), IA_OK);
  if (!dense) IA_ASSERT_CLOSE(l0, direct_loss(&f, w, act, loss), 1e-13, 1e-12, "loss formula");
  ia_recoder_free(&m);

  /* With dropout at a fixed step: every weight against finite differences. */
  m = make(&f, act, loss, 0.3);
  assert_int_equal(ia_recoder_get_params(m, w), IA_OK);
  assert_int_equal(ia_recoder_loss_grad(m, &x, batch, NB, 4, &l0, g), IA_OK);
  IA_ASSERT_CLOSE(loss_at(m, &x, w, 4), l0, 0, 1e-14, "the same dropout at the same step");
  double h = 1e-5;
  for (int64_t e = 0; e < np; e++) {
    double w0 = w[e], f4[4];
    const double o4[4] = {2, 1, -1, -2};
    for (int k = 0; k < 4; k++) {
      w[e] = w0 + o4[k] * h;
      f4[k] = loss_at(m, &x, w, 4);
    }
    w[e] = w0;
    double fd = (-f4[0] + 8 * f4[1] - 8 * f4[2] + f4[3]) / (12 * h);
    IA_ASSERT_CLOSE(g[e], fd, 1e-8, 1e-6, "dL/dw");
  }
  /* Items D-2 and D-1 belong to nobody: their output weights and bias get
   * no gradient (they are not sampled). */
  int64_t wout = (int64_t)D * H1 + H1 + H1 * H2 + H2;
  for (int i = D - 2; !dense && i < D; i++) {
    for (int j = 0; j < H2; j++) assert_true(g[wout + i * H2 + j] == 0.0);
    assert_true(g[wout + H2 * D + i] == 0.0);
  }

  /* First Adam step: m̂ = g, v̂ = g², so w moves by lr·g/(|g| + ε). */
  assert_int_equal(ia_recoder_set_params(m, w), IA_OK);
  double l1 = 0, *w1 = malloc(sizeof(double) * (size_t)np);
  assert_int_equal(ia_recoder_step(m, &x, batch, NB, 1, &l1), IA_OK);
  assert_int_equal(ia_recoder_get_params(m, w1), IA_OK);
  assert_int_equal(ia_recoder_loss_grad(m, &x, batch, NB, 1, &l0, NULL), IA_OK);
  assert_int_equal(ia_recoder_set_params(m, w), IA_OK);
  assert_int_equal(ia_recoder_loss_grad(m, &x, batch, NB, 1, &l0, g), IA_OK);
  for (int64_t e = 0; e < np; e++)
    IA_ASSERT_CLOSE(w1[e], w[e] - 0.01 * g[e] / (fabs(g[e]) + 1e-8), 1e-15, 1e-12, "Adam step 1");
  free(w1);
  free(w);
  free(g);
  free(rows);
  ia_recoder_free(&m);
  free_data(&f);
}

static void test_softmax_tanh(void **s) {
  (void)s;
  check(IA_ACT_TANH, IA_LOSS_SOFTMAX, 0);
}
static void test_mse_sigmoid(void **s) {
  (void)s;
  check(IA_ACT_SIGMOID, IA_LOSS_MSE, 0);
}
static void test_softmax_relu(void **s) {
  (void)s;
  check(IA_ACT_RELU, IA_LOSS_SOFTMAX, 0);
}
static void test_dense_mse_tanh(void **s) {
  (void)s;
  check(IA_ACT_TANH, IA_LOSS_MSE, 1);
}
static void test_dense_softmax_sigmoid(void **s) {
  (void)s;
  check(IA_ACT_SIGMOID, IA_LOSS_SOFTMAX, 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_softmax_tanh),          cmocka_unit_test(test_mse_sigmoid),
    cmocka_unit_test(test_softmax_relu),          cmocka_unit_test(test_dense_mse_tanh),
    cmocka_unit_test(test_dense_softmax_sigmoid),
};
IA_TEST_MAIN(tests)
