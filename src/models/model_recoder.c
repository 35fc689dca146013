/* Recoder (include/infae/models/recoder.h). Layout: a step's users are the rows of
 * column-major blocks (users × features); layer l maps n[l-1] features to
 * n[l] with W_l (n[l-1] × n[l]) and b_l. Layer 0's input is the d items, the
 * output layer gives d item scores, of which a step computes only the
 * columns of its sampled items I (gathered from W_out, n[L] × d). */
#include "infae/models/recoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infae/core/log.h"
#include "infae/core/rng.h"
#include "infae/io/dataset.h"

struct ia_recoder {
  MPI_Comm comm;
  ia_backend *be;
  ia_recoder_opts o;
  int layers;                              /* hidden layers + the output layer */
  int64_t n[IA_RECODER_MAX_LAYERS + 2];    /* widths: n[0] = d, ..., n[layers] = d */
  int64_t w_at[IA_RECODER_MAX_LAYERS + 1]; /* offsets of W_l and b_l in the parameters */
  int64_t b_at[IA_RECODER_MAX_LAYERS + 1];
  int64_t n_params, d, max_rows, widest;
  double *x, *g, *am, *av;                /* parameters, gradient, Adam moments */
  double *in;                             /* max_rows × d: the input rows */
  double *act[IA_RECODER_MAX_LAYERS + 1]; /* max_rows × n[l]: hidden activations */
  double *da, *dz;                        /* max_rows × widest: backward scratch */
  double *out, *target; /* max_rows × d: outputs (then their gradient), targets */
  double *wg, *dwg;     /* n[L] × d: gathered output weights, their gradient */
  double *ones;         /* max(max_rows, d) ones */
  int32_t *items;       /* the step's sampled items (backend memory) */
  /* host scratch */
  uint8_t *mark;
  int32_t *h_items, *pos;
  double *h_in, *h_target; /* dense sources: built on the host */
  double flops;
};

static const char *act_names[] = {"identity", "relu", "tanh", "sigmoid"};
static const char *loss_names[] = {"mse", "softmax"};

ia_status ia_act_parse(const char *text, ia_act *out) {
  for (int k = 0; k < 4; k++)
    if (!strcmp(text, act_names[k])) {
      *out = (ia_act)k;
      return IA_OK;
    }
  IA_CHECK(0, IA_ERR_ARG, "--activation must be tanh, relu, sigmoid or identity (got '%s')", text);
}

ia_status ia_loss_parse(const char *text, ia_loss *out) {
  for (int k = 0; k < 2; k++)
    if (!strcmp(text, loss_names[k])) {
      *out = (ia_loss)k;
      return IA_OK;
    }
  IA_CHECK(0, IA_ERR_ARG, "--loss must be mse or softmax (got '%s')", text);
}

void ia_recoder_defaults(ia_recoder_opts *o) {
  *o = (ia_recoder_opts){.hidden = {200},
                         .n_hidden = 1,
                         .act = IA_ACT_TANH,
                         .loss = IA_LOSS_SOFTMAX,
                         .dropout = 0.5,
                         .confidence = 0,
                         .lr = 1e-3,
                         .epochs = 50,
                         .batch = 256,
                         .eval_every = 1,
                         .patience = 10,
                         .seed = 42};
}

ia_status ia_recoder_set_hidden(const double *v, int n, ia_recoder_opts *o) {
  IA_CHECK(n >= 1 && n <= IA_RECODER_MAX_LAYERS, IA_ERR_ARG,
           "--hidden takes 1 to %d layer widths (got %d)", IA_RECODER_MAX_LAYERS, n);
  for (int l = 0; l < n; l++) {
    IA_CHECK(v[l] >= 1 && v[l] <= 1e6 && v[l] == floor(v[l]), IA_ERR_ARG,
             "--hidden widths must be whole numbers in [1, 1e6] (got %g)", v[l]);
    o->hidden[l] = (int)v[l];
  }
  o->n_hidden = n;
  return IA_OK;
}

const char *ia_act_name(ia_act a) { return act_names[a]; }
const char *ia_loss_name(ia_loss l) { return loss_names[l]; }

/* Random streams: ids tagged by use in their top byte. */
enum { TAG_INIT = 1, TAG_ORDER = 2, TAG_DROPOUT = 3 };
static uint64_t rng_id(int tag, uint64_t v) { return ((uint64_t)tag << 56) | v; }

void ia_recoder_epoch_order(uint64_t seed, int epoch, int64_t n, int64_t *order) {
  ia_rng r;
  ia_rng_init(&r, seed, IA_RNG_RECODER, rng_id(TAG_ORDER, (uint64_t)epoch));
  for (int64_t i = 0; i < n; i++) order[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)ia_rng_below(&r, (uint64_t)(i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/* The input dropout stream of user u (global index) at a step. */
static void dropout_stream(const ia_recoder *m, const ia_recoder_data *x, int64_t u, int64_t step,
                           ia_rng *r) {
  ia_rng_init(r, m->o.seed, IA_RNG_RECODER,
              rng_id(TAG_DROPOUT, (uint64_t)step * (uint64_t)x->n_users + (uint64_t)u));
}

static ia_status mm(ia_recoder *m, char ta, char tb, int64_t rows, int64_t cols, int64_t k,
                    double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                    double beta, double *c, int64_t ldc) {
  m->flops += 2.0 * (double)rows * (double)cols * (double)k;
  return ia_be_gemm(m->be, IA_FP64, ta, tb, rows, cols, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static ia_status be_alloc(ia_recoder *m, int64_t count, const char *what, double **out) {
  return ia_be_alloc(m->be, sizeof(double) * (size_t)(count > 0 ? count : 1), what, (void **)out);
}

void ia_recoder_free(ia_recoder **pm) {
  ia_recoder *m = *pm;
  if (!m) return;
  double *dev[] = {m->x,  m->g,   m->am,     m->av, m->in,  m->da,
                   m->dz, m->out, m->target, m->wg, m->dwg, m->ones};
  for (size_t k = 0; k < sizeof dev / sizeof *dev; k++) ia_be_free(m->be, dev[k]);
  for (int l = 0; l <= IA_RECODER_MAX_LAYERS; l++) ia_be_free(m->be, m->act[l]);
  ia_be_free(m->be, m->items);
  free(m->mark);
  free(m->h_items);
  free(m->pos);
  free(m->h_in);
  free(m->h_target);
  free(m);
  *pm = NULL;
}

static ia_status init_params(ia_recoder *m) {
  double *h = NULL;
  IA_CALL(IA_ZALLOC(h, m->n_params, "Recoder weights"));
  for (int l = 1; l <= m->layers; l++) {
    ia_rng r;
    ia_rng_init(&r, m->o.seed, IA_RNG_RECODER, rng_id(TAG_INIT, (uint64_t)l));
    double a = sqrt(6.0 / (double)(m->n[l - 1] + m->n[l]));
    for (int64_t e = 0; e < m->n[l - 1] * m->n[l]; e++)
      h[m->w_at[l] + e] = a * (2.0 * ia_rng_uniform(&r) - 1.0);
  }
  ia_status st = ia_recoder_set_params(m, h);
  free(h);
  return st;
}

ia_status ia_recoder_create(MPI_Comm comm, ia_backend *be, const ia_recoder_opts *o, int64_t d,
                            int64_t max_rows, ia_recoder **out) {
  ia_recoder *m = NULL;
  *out = NULL;
  IA_CHECK(o->n_hidden >= 1 && o->n_hidden <= IA_RECODER_MAX_LAYERS, IA_ERR_ARG,
           "--hidden takes 1 to %d layer widths", IA_RECODER_MAX_LAYERS);
  for (int l = 0; l < o->n_hidden; l++)
    IA_CHECK(o->hidden[l] >= 1, IA_ERR_ARG, "--hidden widths must be ≥ 1 (got %d)", o->hidden[l]);
  IA_CALL(IA_ZALLOC(m, 1, "Recoder"));
  m->comm = comm;
  m->be = be;
  m->o = *o;
  m->d = d;
  m->max_rows = max_rows > 0 ? max_rows : 1;
  m->layers = o->n_hidden + 1;
  m->n[0] = d;
  for (int l = 1; l <= o->n_hidden; l++) m->n[l] = o->hidden[l - 1];
  m->n[m->layers] = d;
  for (int l = 1; l <= m->layers; l++) {
    m->w_at[l] = m->n_params;
    m->b_at[l] = m->n_params + m->n[l - 1] * m->n[l];
    m->n_params = m->b_at[l] + m->n[l];
    if (l < m->layers && m->n[l] > m->widest) m->widest = m->n[l];
  }
  int64_t rows = m->max_rows, hid = m->n[m->layers - 1];
  ia_status st = be_alloc(m, m->n_params, "Recoder weights", &m->x);
  if (st == IA_OK) st = be_alloc(m, m->n_params, "Recoder gradient", &m->g);
  if (st == IA_OK) st = be_alloc(m, m->n_params, "Adam m", &m->am);
  if (st == IA_OK) st = be_alloc(m, m->n_params, "Adam v", &m->av);
  if (st == IA_OK) st = be_alloc(m, rows * d, "Recoder input", &m->in);
  for (int l = 1; l < m->layers && st == IA_OK; l++)
    st = be_alloc(m, rows * m->n[l], "Recoder activations", &m->act[l]);
  if (st == IA_OK) st = be_alloc(m, rows * m->widest, "Recoder backward", &m->da);
  if (st == IA_OK) st = be_alloc(m, rows * m->widest, "Recoder backward", &m->dz);
  if (st == IA_OK) st = be_alloc(m, rows * d, "Recoder output", &m->out);
  if (st == IA_OK) st = be_alloc(m, rows * d, "Recoder targets", &m->target);
  if (st == IA_OK) st = be_alloc(m, hid * d + d, "output weights of the sampled items", &m->wg);
  if (st == IA_OK) st = be_alloc(m, hid * d + d, "their gradient", &m->dwg);
  if (st == IA_OK) st = be_alloc(m, rows > d ? rows : d, "ones", &m->ones);
  if (st == IA_OK)
    st = ia_be_alloc(be, sizeof(int32_t) * (size_t)d, "sampled items", (void **)&m->items);
  if (st == IA_OK) st = IA_ALLOC(m->mark, d, "item marks");
  if (st == IA_OK) st = IA_ALLOC(m->h_items, d, "sampled items");
  if (st == IA_OK) st = IA_ALLOC(m->pos, d, "item positions");
  if (st == IA_OK) {
    double *h = NULL;
    int64_t k = rows > d ? rows : d;
    st = IA_ALLOC(h, k, "ones");
    for (int64_t i = 0; st == IA_OK && i < k; i++) h[i] = 1.0;
    if (st == IA_OK) st = ia_be_upload(be, m->ones, h, sizeof(double) * (size_t)k);
    free(h);
  }
  if (st == IA_OK) st = ia_be_zero(be, m->am, sizeof(double) * (size_t)m->n_params);
  if (st == IA_OK) st = ia_be_zero(be, m->av, sizeof(double) * (size_t)m->n_params);
  if (st == IA_OK) st = init_params(m);
  st = ia_agree(comm, st);
  if (st != IA_OK) {
    ia_recoder_free(&m);
    return st;
  }
  *out = m;
  return IA_OK;
}

int64_t ia_recoder_n_params(const ia_recoder *m) { return m->n_params; }
double ia_recoder_flops(const ia_recoder *m) { return m->flops; }

int ia_recoder_widths(const ia_recoder *m, int64_t *n) {
  for (int l = 0; l <= m->layers; l++) n[l] = m->n[l];
  return m->layers;
}

ia_status ia_recoder_get_params(ia_recoder *m, double *host) {
  return ia_be_download(m->be, host, m->x, sizeof(double) * (size_t)m->n_params);
}

ia_status ia_recoder_set_params(ia_recoder *m, const double *host) {
  return ia_be_upload(m->be, m->x, host, sizeof(double) * (size_t)m->n_params);
}

/* Hidden layers on the rows of m->in (n users): m->act[l] = act(scale·A·W + b). */
static ia_status forward_hidden(ia_recoder *m, int64_t n, double in_scale) {
  const double *a = m->in;
  for (int l = 1; l < m->layers; l++) {
    int64_t k = m->n[l - 1], w = m->n[l];
    IA_CALL(mm(m, 'N', 'N', n, w, k, l == 1 ? in_scale : 1.0, a, m->max_rows, m->x + m->w_at[l], k,
               0.0, m->act[l], m->max_rows));
    IA_CALL(mm(m, 'N', 'N', n, w, 1, 1.0, m->ones, m->max_rows, m->x + m->b_at[l], 1, 1.0,
               m->act[l], m->max_rows));
    IA_CALL(ia_be_act(m->be, m->o.act, n, w, m->act[l], m->max_rows));
    a = m->act[l];
  }
  return IA_OK;
}

/* The step's local users (global indices) and its sampled items: the union,
 * over every rank's users of the batch, of the items they interacted with. */
static ia_status batch_items(ia_recoder *m, const ia_recoder_data *x, const int64_t *users,
                             int64_t n, int64_t *local, int64_t *n_local, int64_t *n_items) {
  int rank, size;
  MPI_Comm_rank(m->comm, &rank);
  MPI_Comm_size(m->comm, &size);
  int64_t c = 0;
  memset(m->mark, 0, (size_t)m->d);
  if (x->dense) {
    int64_t b0, bn;
    ia_partition(n, size, rank, &b0, &bn);
    for (int64_t k = b0; k < b0 + bn; k++) {
      local[c++] = users[k];
      const double *row = x->dense + users[k] * m->d;
      for (int64_t i = 0; i < m->d; i++) m->mark[i] |= row[i] > 0;
    }
  } else {
    const ia_csr *r = x->rows;
    for (int64_t k = 0; k < n; k++) {
      int64_t u = users[k] - x->row_begin;
      if (u < 0 || u >= r->n_rows) continue;
      local[c++] = users[k];
      for (int64_t p = r->indptr[u]; p < r->indptr[u + 1]; p++) m->mark[r->indices[p]] = 1;
    }
  }
  IA_MPI(MPI_Allreduce(MPI_IN_PLACE, m->mark, (int)m->d, MPI_UINT8_T, MPI_BOR, m->comm));
  int64_t k = 0;
  for (int64_t i = 0; i < m->d; i++) {
    m->pos[i] = m->mark[i] ? (int32_t)k : -1;
    if (m->mark[i]) m->h_items[k++] = (int32_t)i;
  }
  *n_local = c;
  *n_items = k;
  return ia_be_upload(m->be, m->items, m->h_items, sizeof(int32_t) * (size_t)k);
}

/* Does the input keep item i of user u at this step? (dropout) */
static int kept(ia_rng *r, double p) { return p <= 0 || ia_rng_uniform(r) >= p; }

/* m->in (n × d) and m->target (n × k sampled items) of the local users. */
static ia_status batch_rows(ia_recoder *m, const ia_recoder_data *x, const int64_t *local,
                            int64_t n, int64_t k, int64_t step) {
  double p = m->o.dropout;
  int64_t ld = m->max_rows;
  if (x->dense) {
    if (!m->h_in) IA_CALL(IA_ALLOC(m->h_in, ld * m->d, "Recoder input"));
    if (!m->h_target) IA_CALL(IA_ALLOC(m->h_target, ld * m->d, "Recoder targets"));
    for (int64_t u = 0; u < n; u++) {
      const double *row = x->dense + local[u] * m->d;
      ia_rng r;
      dropout_stream(m, x, local[u], step, &r);
      for (int64_t i = 0; i < m->d; i++) {
        m->h_in[u + i * ld] = kept(&r, p) ? row[i] : 0.0;
        if (m->pos[i] >= 0) m->h_target[u + m->pos[i] * ld] = row[i];
      }
    }
    IA_CALL(ia_be_upload(m->be, m->in, m->h_in, sizeof(double) * (size_t)(ld * m->d)));
    return ia_be_upload(m->be, m->target, m->h_target, sizeof(double) * (size_t)(ld * k));
  }
  /* Sparse rows: the kept input items and the targets renumbered into the
   * sampled items, densified by the backend. */
  const ia_csr *r = x->rows;
  int64_t nnz = 0;
  for (int64_t u = 0; u < n; u++) {
    int64_t q = local[u] - x->row_begin;
    nnz += r->indptr[q + 1] - r->indptr[q];
  }
  ia_csr in = {0}, tg = {0};
  ia_be_csr *bin = NULL, *btg = NULL;
  ia_status st = ia_csr_alloc(&in, n, m->d, nnz);
  if (st == IA_OK) st = ia_csr_alloc(&tg, n, k, nnz);
  if (st == IA_OK) {
    int64_t a = 0, b = 0;
    in.indptr[0] = tg.indptr[0] = 0;
    for (int64_t u = 0; u < n; u++) {
      int64_t q = local[u] - x->row_begin;
      ia_rng g;
      dropout_stream(m, x, local[u], step, &g);
      for (int64_t e = r->indptr[q]; e < r->indptr[q + 1]; e++) {
        int32_t i = r->indices[e];
        if (kept(&g, p)) in.indices[a++] = i;
        tg.indices[b++] = m->pos[i];
      }
      in.indptr[u + 1] = a;
      tg.indptr[u + 1] = b;
    }
    st = ia_be_csr_make(m->be, &in, &bin);
  }
  if (st == IA_OK) st = ia_be_csr_make(m->be, &tg, &btg);
  if (st == IA_OK) st = ia_be_densify(m->be, IA_FP64, bin, m->d, m->in, ld);
  if (st == IA_OK) st = ia_be_densify(m->be, IA_FP64, btg, k, m->target, ld);
  ia_be_csr_free(m->be, &bin);
  ia_be_csr_free(m->be, &btg);
  ia_csr_free(&in);
  ia_csr_free(&tg);
  return st;
}

/* Loss and gradient (in m->g, summed over ranks) of the batch. */
static ia_status loss_grad(ia_recoder *m, const ia_recoder_data *x, const int64_t *users, int64_t n,
                           int64_t step, double *loss, int with_grad) {
  int64_t *local = NULL, nl = 0, k = 0, ld = m->max_rows, L = m->layers, h = m->n[L - 1];
  ia_status st = IA_ALLOC(local, n > 0 ? n : 1, "batch users");
  if (st == IA_OK) st = batch_items(m, x, users, n, local, &nl, &k);
  if (st == IA_OK && nl > m->max_rows)
    st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__,
                      "%lld users of the batch on one rank, the workspace holds %lld",
                      (long long)nl, (long long)m->max_rows);
  double keep = 1.0 - m->o.dropout, mine = 0;
  if (st == IA_OK && with_grad) st = ia_be_zero(m->be, m->g, sizeof(double) * (size_t)m->n_params);
  if (st == IA_OK && nl > 0) {
    st = batch_rows(m, x, local, nl, k, step);
    /* Forward: hidden layers, then the sampled items' outputs. */
    if (st == IA_OK) st = forward_hidden(m, nl, 1.0 / keep);
    if (st == IA_OK) st = ia_be_gather_cols(m->be, h, k, m->x + m->w_at[L], h, m->items, m->wg, h);
    if (st == IA_OK)
      st = ia_be_gather_cols(m->be, 1, k, m->x + m->b_at[L], 1, m->items, m->wg + h * k, 1);
    if (st == IA_OK)
      st = mm(m, 'N', 'N', nl, k, h, 1.0, m->act[L - 1], ld, m->wg, h, 0.0, m->out, ld);
    if (st == IA_OK)
      st = mm(m, 'N', 'N', nl, k, 1, 1.0, m->ones, ld, m->wg + h * k, 1, 1.0, m->out, ld);
    if (st == IA_OK)
      st = ia_be_recon_loss(m->be, m->o.loss, nl, k, m->out, ld, m->target, ld, m->o.confidence,
                            1.0 / (double)n, &mine);
  }
  if (st == IA_OK && nl > 0 && with_grad) {
    /* Output layer: scattered back to the sampled items' columns. */
    double *dw = m->dwg, *db = m->dwg + h * k;
    st = mm(m, 'T', 'N', h, k, nl, 1.0, m->act[L - 1], ld, m->out, ld, 0.0, dw, h);
    if (st == IA_OK) st = mm(m, 'T', 'N', k, 1, nl, 1.0, m->out, ld, m->ones, ld, 0.0, db, k);
    if (st == IA_OK)
      st = ia_be_scatter_add_cols(m->be, h, k, dw, h, m->items, m->g + m->w_at[L], h);
    if (st == IA_OK)
      st = ia_be_scatter_add_cols(m->be, 1, k, db, 1, m->items, m->g + m->b_at[L], 1);
    if (st == IA_OK) st = mm(m, 'N', 'T', nl, h, k, 1.0, m->out, ld, m->wg, h, 0.0, m->da, ld);
    /* Hidden layers, last to first. */
    for (int l = L - 1; l >= 1 && st == IA_OK; l--) {
      int64_t in = m->n[l - 1], w = m->n[l];
      const double *a = l > 1 ? m->act[l - 1] : m->in;
      double s = l > 1 ? 1.0 : 1.0 / keep;
      st = ia_be_copy(m->be, m->dz, m->da, sizeof(double) * (size_t)(ld * w));
      if (st == IA_OK) st = ia_be_act_grad(m->be, m->o.act, nl, w, m->act[l], ld, m->dz, ld);
      if (st == IA_OK)
        st = mm(m, 'T', 'N', in, w, nl, s, a, ld, m->dz, ld, 0.0, m->g + m->w_at[l], in);
      if (st == IA_OK)
        st = mm(m, 'T', 'N', w, 1, nl, 1.0, m->dz, ld, m->ones, ld, 0.0, m->g + m->b_at[l], w);
      if (st == IA_OK && l > 1)
        st = mm(m, 'N', 'T', nl, in, w, 1.0, m->dz, ld, m->x + m->w_at[l], in, 0.0, m->da, ld);
    }
  }
  free(local);
  IA_CALL(ia_agree(m->comm, st));
  IA_MPI(MPI_Allreduce(&mine, loss, 1, MPI_DOUBLE, MPI_SUM, m->comm));
  if (with_grad) IA_CALL(ia_agree(m->comm, ia_be_allreduce_sum(m->be, m->g, m->n_params)));
  return IA_OK;
}

ia_status ia_recoder_loss_grad(ia_recoder *m, const ia_recoder_data *x, const int64_t *users,
                               int64_t n, int64_t step, double *loss, double *grad) {
  IA_CALL(loss_grad(m, x, users, n, step, loss, grad != NULL));
  if (grad) IA_CALL(ia_be_download(m->be, grad, m->g, sizeof(double) * (size_t)m->n_params));
  return IA_OK;
}

ia_status ia_recoder_step(ia_recoder *m, const ia_recoder_data *x, const int64_t *users, int64_t n,
                          int64_t step, double *loss) {
  IA_CALL(loss_grad(m, x, users, n, step, loss, 1));
  ia_adam a = {.lr = m->o.lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  a.c1 = 1.0 - pow(a.beta1, (double)step);
  a.c2 = 1.0 - pow(a.beta2, (double)step);
  return ia_be_adam(m->be, &a, m->n_params, m->x, m->g, m->am, m->av);
}

ia_status ia_recoder_scores(ia_recoder *m, const ia_csr *a, const ia_csr *b, const int64_t *rows,
                            int64_t n, double *p) {
  IA_CHECK(n <= m->max_rows, IA_ERR_ARG, "%lld users to score, the workspace holds %lld",
           (long long)n, (long long)m->max_rows);
  int64_t L = m->layers, h = m->n[L - 1], d = m->d;
  ia_csr c = {0};
  ia_be_csr *bc = NULL;
  ia_status st = ia_csr_union_rows(a, b, rows, n, &c);
  if (st == IA_OK) st = ia_be_csr_make(m->be, &c, &bc);
  if (st == IA_OK) st = ia_be_densify(m->be, IA_FP64, bc, d, m->in, m->max_rows);
  if (st == IA_OK) st = forward_hidden(m, n, 1.0);
  /* Item-major output (d × n) is the row-major n × d the caller wants. */
  if (st == IA_OK)
    st = mm(m, 'T', 'T', d, n, h, 1.0, m->x + m->w_at[L], h, m->act[L - 1], m->max_rows, 0.0,
            m->out, d);
  if (st == IA_OK)
    st = mm(m, 'N', 'N', d, n, 1, 1.0, m->x + m->b_at[L], d, m->ones, 1, 1.0, m->out, d);
  if (st == IA_OK) st = ia_be_download(m->be, p, m->out, sizeof(double) * (size_t)(n * d));
  ia_be_csr_free(m->be, &bc);
  ia_csr_free(&c);
  return st;
}
