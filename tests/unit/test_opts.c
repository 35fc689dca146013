#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "infae/core/idmap.h"
#include "infae/core/log.h"
#include "infae/core/opts.h"

static void parses_every_type(void **state) {
  (void)state;
  int i, flag;
  int64_t big;
  double x;
  const char *s;
  ia_strings many;
  ia_reals list;
  const ia_opt t[] = {
      {"int", IA_OPT_INT, "3", "", &i},       {"big", IA_OPT_INT64, "0", "", &big},
      {"x", IA_OPT_REAL, "0.5", "", &x},      {"s", IA_OPT_STRING, NULL, "", &s},
      {"flag", IA_OPT_FLAG, NULL, "", &flag}, {"in", IA_OPT_STRINGS, NULL, "", &many},
      {"l", IA_OPT_REALS, "1,2", "", &list},
  };
  char *argv[] = {"--big",  "123456789012", "--x=2.5", "--in",     "a",
                  "--in=b", "--flag",       "--l",     "0,1e-5,50"};
  int help;
  assert_int_equal(ia_opts_parse(t, 7, 9, argv, &help), IA_OK);
  assert_int_equal(help, 0);
  assert_int_equal(i, 3);
  assert_true(big == 123456789012LL);
  IA_ASSERT_CLOSE(x, 2.5, 0, 0, "parsed exactly");
  assert_null(s);
  assert_int_equal(flag, 1);
  assert_int_equal(many.n, 2);
  assert_string_equal(many.v[1], "b");
  assert_int_equal(list.n, 3);
  IA_ASSERT_CLOSE(list.v[1], 1e-5, 0, 0, "parsed exactly");
  char buf[512];
  ia_opts_describe(t, 7, buf, sizeof buf);
  assert_non_null(strstr(buf, "in=a,b\n"));
  ia_opts_free(t, 7);
}

static void rejects_bad_input(void **state) {
  (void)state;
  int i;
  double x;
  const ia_opt t[] = {{"int", IA_OPT_INT, "3", "", &i}, {"x", IA_OPT_REAL, NULL, "", &x}};
  int help;
  char *a1[] = {"--int", "3x"};
  assert_int_equal(ia_opts_parse(t, 2, 2, a1, &help), IA_ERR_ARG);
  ia_error_clear();
  char *a2[] = {"--nope"};
  assert_int_equal(ia_opts_parse(t, 2, 1, a2, &help), IA_ERR_ARG);
  assert_non_null(strstr(ia_error_message(), "unknown option"));
  ia_error_clear();
  char *a3[] = {"--x"};
  assert_int_equal(ia_opts_parse(t, 2, 1, a3, &help), IA_ERR_ARG);
  ia_error_clear();
  char *a4[] = {"stray"};
  assert_int_equal(ia_opts_parse(t, 2, 1, a4, &help), IA_ERR_ARG);
  ia_error_clear();
  char *a5[] = {"--int", "99999999999"};
  assert_int_equal(ia_opts_parse(t, 2, 2, a5, &help), IA_ERR_ARG);
  ia_error_clear();
  char *a6[] = {"--x", "nan"};
  assert_int_equal(ia_opts_parse(t, 2, 2, a6, &help), IA_ERR_ARG);
  ia_error_clear();
  char *a7[] = {"--help"};
  assert_int_equal(ia_opts_parse(t, 2, 1, a7, &help), IA_OK);
  assert_int_equal(help, 1);
}

static void idmap_interns_and_sorts(void **state) {
  (void)state;
  ia_idmap *m = NULL;
  assert_int_equal(ia_idmap_create(&m), IA_OK);
  const char *keys[] = {"10", "9", "100", "0120735", "9"};
  int32_t id[5];
  for (int k = 0; k < 5; k++)
    assert_int_equal(ia_idmap_intern(m, keys[k], strlen(keys[k]), &id[k]), IA_OK);
  assert_int_equal(ia_idmap_size(m), 4);
  assert_int_equal(id[1], id[4]);
  assert_int_equal(ia_idmap_find(m, "100", 3), 2);
  assert_int_equal(ia_idmap_find(m, "1000", 4), -1);
  int32_t *order = NULL;
  assert_int_equal(ia_idmap_sorted(m, &order), IA_OK);
  /* byte order: "0120735" < "10" < "100" < "9" */
  assert_string_equal(ia_idmap_key(m, order[0]), "0120735");
  assert_string_equal(ia_idmap_key(m, order[1]), "10");
  assert_string_equal(ia_idmap_key(m, order[2]), "100");
  assert_string_equal(ia_idmap_key(m, order[3]), "9");
  free(order);
  /* Growth past the initial table keeps every key. */
  char buf[32];
  for (int k = 0; k < 100000; k++) {
    int32_t v;
    snprintf(buf, sizeof buf, "u%d", k);
    assert_int_equal(ia_idmap_intern(m, buf, strlen(buf), &v), IA_OK);
  }
  assert_int_equal(ia_idmap_find(m, "u77777", 6), 4 + 77777);
  assert_int_equal(ia_idmap_sorted(m, &order), IA_OK);
  assert_string_equal(ia_idmap_key(m, order[0]), "0120735");
  assert_string_equal(ia_idmap_key(m, order[4]), "u0");
  assert_string_equal(ia_idmap_key(m, order[5]), "u1");
  assert_string_equal(ia_idmap_key(m, order[6]), "u10");
  free(order);
  ia_idmap_free(&m);
  assert_null(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parses_every_type),
    cmocka_unit_test(rejects_bad_input),
    cmocka_unit_test(idmap_interns_and_sorts),
};
IA_TEST_MAIN(tests)
