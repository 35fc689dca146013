#include "infae/core/opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static ia_status parse_int64(const char *name, const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  IA_CHECK(errno == 0 && end != s && *end == '\0', IA_ERR_ARG, "--%s expects an integer, got '%s'",
           name, s);
  *out = v;
  return IA_OK;
}

static ia_status parse_real(const char *name, const char *s, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  IA_CHECK(errno == 0 && end != s && *end == '\0' && isfinite(v), IA_ERR_ARG,
           "--%s expects a number, got '%s'", name, s);
  *out = v;
  return IA_OK;
}

static ia_status set_value(const ia_opt *o, const char *s) {
  switch (o->type) {
    case IA_OPT_INT: {
      int64_t v = 0;
      IA_CALL(parse_int64(o->name, s, &v));
      IA_CHECK(v >= -2147483647 && v <= 2147483647, IA_ERR_ARG, "--%s: %s is out of range", o->name,
               s);
      *(int *)o->dst = (int)v;
      return IA_OK;
    }
    case IA_OPT_INT64:
      return parse_int64(o->name, s, (int64_t *)o->dst);
    case IA_OPT_REAL:
      return parse_real(o->name, s, (double *)o->dst);
    case IA_OPT_STRING:
      *(const char **)o->dst = s;
      return IA_OK;
    case IA_OPT_FLAG:
      *(int *)o->dst = 1;
      return IA_OK;
    case IA_OPT_STRINGS: {
      ia_strings *l = o->dst;
      const char **v = realloc(l->v, sizeof *v * (size_t)(l->n + 1));
      IA_CHECK(v, IA_ERR_NOMEM, "out of memory parsing --%s", o->name);
      l->v = v;
      l->v[l->n++] = s;
      return IA_OK;
    }
    case IA_OPT_REALS: {
      ia_reals *l = o->dst;
      l->n = 0;
      char buf[1024];
      IA_CHECK(strlen(s) < sizeof buf, IA_ERR_ARG, "--%s: list too long", o->name);
      /* Every comma separates two values: "1,,5", ",5" and "5," are refused. */
      for (const char *p = s;; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        IA_CHECK(len > 0, IA_ERR_ARG,
                 "--%s expects a comma-separated list of numbers, got '%s' (an empty entry)",
                 o->name, s);
        IA_CHECK(l->n < (int)(sizeof l->v / sizeof l->v[0]), IA_ERR_ARG, "--%s: at most 64 values",
                 o->name);
        memcpy(buf, p, len);
        buf[len] = '\0';
        IA_CALL(parse_real(o->name, buf, &l->v[l->n]));
        l->n++;
        if (!comma) break;
        p = comma;
      }
      return IA_OK;
    }
  }
  return IA_ERR_INTERNAL;
}

ia_status ia_opts_parse(const ia_opt *table, int n, int argc, char **argv, int *help) {
  *help = 0;
  for (int i = 0; i < n; i++) {
    if (table[i].type == IA_OPT_FLAG) *(int *)table[i].dst = 0;
    if (table[i].type == IA_OPT_STRINGS) *(ia_strings *)table[i].dst = (ia_strings){0};
    if (table[i].type == IA_OPT_STRING) *(const char **)table[i].dst = NULL;
    if (table[i].def && table[i].type != IA_OPT_STRINGS)
      IA_CALL(set_value(&table[i], table[i].def));
  }
  for (int a = 0; a < argc; a++) {
    const char *arg = argv[a];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      *help = 1;
      return IA_OK;
    }
    /* --name, or -name (e.g. -k 10, -np 16) */
    IA_CHECK(arg[0] == '-' && arg[1] && (arg[1] != '-' || arg[2]), IA_ERR_ARG,
             "unexpected argument '%s' (options start with --; see --help)", arg);
    const char *name = arg + (arg[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const ia_opt *o = NULL;
    for (int i = 0; i < n; i++)
      if (strlen(table[i].name) == len && !strncmp(table[i].name, name, len)) o = &table[i];
    IA_CHECK(o, IA_ERR_ARG, "unknown option '%s' (see --help)", arg);
    const char *value = NULL;
    if (o->type == IA_OPT_FLAG) {
      IA_CHECK(!eq, IA_ERR_ARG, "--%s takes no value", o->name);
      value = "1";
    } else if (eq) {
      value = eq + 1;
    } else {
      IA_CHECK(a + 1 < argc, IA_ERR_ARG, "--%s needs a value", o->name);
      value = argv[++a];
    }
    IA_CALL(set_value(o, value));
  }
  return IA_OK;
}

int ia_opts_given(int argc, char **argv, const char *name) {
  size_t len = strlen(name);
  for (int a = 0; a < argc; a++) {
    const char *arg = argv[a];
    if (arg[0] != '-') continue;
    const char *p = arg + (arg[1] == '-' ? 2 : 1);
    if (!strncmp(p, name, len) && (p[len] == '\0' || p[len] == '=')) return 1;
  }
  return 0;
}

void ia_opts_free(const ia_opt *table, int n) {
  for (int i = 0; i < n; i++)
    if (table[i].type == IA_OPT_STRINGS) {
      ia_strings *l = table[i].dst;
      free(l->v);
      *l = (ia_strings){0};
    }
}

static const char *type_hint(ia_opt_type t) {
  switch (t) {
    case IA_OPT_INT:
    case IA_OPT_INT64:
      return "N";
    case IA_OPT_REAL:
      return "X";
    case IA_OPT_STRING:
    case IA_OPT_STRINGS:
      return "S";
    case IA_OPT_REALS:
      return "X,X,..";
    case IA_OPT_FLAG:
      return "";
  }
  return "";
}

void ia_opts_usage(FILE *f, const char *usage, const char *summary, const ia_opt *table, int n) {
  fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, summary);
  for (int i = 0; i < n; i++) {
    char left[64];
    snprintf(left, sizeof left, "%s%s %s", strlen(table[i].name) == 1 ? "-" : "--", table[i].name,
             type_hint(table[i].type));
    fprintf(f, "  %-26s %s", left, table[i].help);
    /* An empty default says nothing ("" for "not given"). */
    if (table[i].def && table[i].def[0] && table[i].type != IA_OPT_FLAG)
      fprintf(f, " [default: %s]", table[i].def);
    if (table[i].type == IA_OPT_STRINGS) fprintf(f, " (repeatable)");
    fprintf(f, "\n");
  }
  fprintf(f, "  %-26s %s\n", "--help", "print this help");
}

void ia_opts_describe(const ia_opt *table, int n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used + 1 < size; i++) {
    const ia_opt *o = &table[i];
    char val[512] = "";
    switch (o->type) {
      case IA_OPT_INT:
      case IA_OPT_FLAG:
        snprintf(val, sizeof val, "%d", *(int *)o->dst);
        break;
      case IA_OPT_INT64:
        snprintf(val, sizeof val, "%lld", (long long)*(int64_t *)o->dst);
        break;
      case IA_OPT_REAL:
        snprintf(val, sizeof val, "%.17g", *(double *)o->dst);
        break;
      case IA_OPT_STRING: {
        const char *s = *(const char **)o->dst;
        snprintf(val, sizeof val, "%s", s ? s : "");
        break;
      }
      case IA_OPT_STRINGS: {
        const ia_strings *l = o->dst;
        for (int k = 0; k < l->n; k++) {
          size_t u = strlen(val);
          snprintf(val + u, sizeof val - u, "%s%s", k ? "," : "", l->v[k]);
        }
        break;
      }
      case IA_OPT_REALS: {
        const ia_reals *l = o->dst;
        for (int k = 0; k < l->n; k++) {
          size_t u = strlen(val);
          snprintf(val + u, sizeof val - u, "%s%g", k ? "," : "", l->v[k]);
        }
        break;
      }
    }
    int w = snprintf(buf + used, size - used, "%s=%s\n", o->name, val);
    if (w < 0) break;
    used += (size_t)w;
  }
}
