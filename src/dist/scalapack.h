#pragma once
/* Prototypes of the BLACS and ScaLAPACK routines infae calls. ScaLAPACK ships
 * no C header; these follow its Fortran interfaces (every argument by
 * reference, descriptors of 9 ints, 0-based BLACS contexts). Internal. */
#include <mpi.h>
#include <stddef.h>

enum { IA_DLEN = 9, IA_CTXT_ = 1, IA_M_ = 2, IA_N_ = 3, IA_MB_ = 4, IA_NB_ = 5, IA_LLD_ = 8 };

int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);

int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);

/* Fortran routines: the trailing size_t is the hidden length of uplo. */
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, int *info, size_t uplo_len);
void pspotrf_(const char *uplo, const int *n, float *a, const int *ia, const int *ja,
              const int *desca, int *info, size_t uplo_len);
/* PBLAS (C) and the redistribution routines. */
void pdgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
             const double *alpha, const double *a, const int *ia, const int *ja, const int *desca,
             const double *b, const int *ib, const int *jb, const int *descb, const double *beta,
             double *c, const int *ic, const int *jc, const int *descc);
void psgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
             const float *alpha, const float *a, const int *ia, const int *ja, const int *desca,
             const float *b, const int *ib, const int *jb, const int *descb, const float *beta,
             float *c, const int *ic, const int *jc, const int *descc);
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
             const double *a, const int *ia, const int *ja, const int *desca, const double *beta,
             double *c, const int *ic, const int *jc, const int *descc);
void pssyrk_(const char *uplo, const char *trans, const int *n, const int *k, const float *alpha,
             const float *a, const int *ia, const int *ja, const int *desca, const float *beta,
             float *c, const int *ic, const int *jc, const int *descc);
/* sub(C) = beta·sub(C) + alpha·sub(A)ᵀ, sub(C) m × n. */
void pdtran_(const int *m, const int *n, const double *alpha, const double *a, const int *ia,
             const int *ja, const int *desca, const double *beta, double *c, const int *ic,
             const int *jc, const int *descc);
void pstran_(const int *m, const int *n, const float *alpha, const float *a, const int *ia,
             const int *ja, const int *desca, const float *beta, float *c, const int *ic,
             const int *jc, const int *descc);
void pdtrsm_(const char *side, const char *uplo, const char *ta, const char *diag, const int *m,
             const int *n, const double *alpha, const double *a, const int *ia, const int *ja,
             const int *desca, double *b, const int *ib, const int *jb, const int *descb);
void pstrsm_(const char *side, const char *uplo, const char *ta, const char *diag, const int *m,
             const int *n, const float *alpha, const float *a, const int *ia, const int *ja,
             const int *desca, float *b, const int *ib, const int *jb, const int *descb);
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja,
               const int *desca, double *b, const int *ib, const int *jb, const int *descb,
               const int *ictxt);
void psgemr2d_(const int *m, const int *n, const float *a, const int *ia, const int *ja,
               const int *desca, float *b, const int *ib, const int *jb, const int *descb,
               const int *ictxt);
