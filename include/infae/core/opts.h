#pragma once
/* Options: one table per subcommand gives name, type, default and help.
 * Parsing, --help and the provenance record all come from the table. */
#include <stdint.h>
#include <stdio.h>

#include "infae/core/status.h"

typedef enum {
  IA_OPT_INT,     /* int */
  IA_OPT_INT64,   /* int64_t */
  IA_OPT_REAL,    /* double */
  IA_OPT_STRING,  /* const char * (points into argv or the default) */
  IA_OPT_FLAG,    /* int, 1 when given */
  IA_OPT_STRINGS, /* ia_strings, repeatable */
  IA_OPT_REALS    /* ia_reals, comma-separated list */
} ia_opt_type;

typedef struct {
  const char **v;
  int n;
} ia_strings;

typedef struct {
  double v[64];
  int n;
} ia_reals;

typedef struct {
  const char *name; /* without the leading -- */
  ia_opt_type type;
  const char *def; /* default as text; NULL = none */
  const char *help;
  void *dst;
} ia_opt;

/* Sets every default, then parses argv[0..argc). `--name value` and
 * `--name=value`. Sets *help when --help/-h is given. Not collective: every
 * rank parses the same argv and so reaches the same verdict. */
IA_NODISCARD ia_status ia_opts_parse(const ia_opt *table, int n, int argc, char **argv, int *help);
/* Whether option --name (or -name, --name=…) is among argv[0..argc). Not
 * collective. */
int ia_opts_given(int argc, char **argv, const char *name);
/* Frees what parsing allocated (lists). */
void ia_opts_free(const ia_opt *table, int n);
void ia_opts_usage(FILE *f, const char *usage, const char *summary, const ia_opt *table, int n);
/* Writes "name=value" pairs, one per line, into buf (provenance). */
void ia_opts_describe(const ia_opt *table, int n, char *buf, size_t size);
