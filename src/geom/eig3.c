/* eig3.c - closed-form symmetric 3x3 eigen-solver (Eberly's robust variant); see eig3.h. */
#include "geom/eig3.h"

#include <math.h>

#include "common/status.h"

static void cross3(const double a[3], const double b[3], double out[3]) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot3(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

/* m (3, 3) symmetric times v (3). */
static void matvec3(double m[3][3], const double v[3], double out[3]) {
  for (int r = 0; r < 3; r++)
    out[r] = m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2];
}

/* Unit eigenvector of a simple eigenvalue lam of m: A - lam I has rank 2, so the cross product of two
 * of its rows is orthogonal to both, i.e. spans its null space; the longest of the three products is
 * the best conditioned. */
static void evec_by_rows(double m[3][3], double lam, double out[3]) {
  double r0[3] = {m[0][0] - lam, m[0][1], m[0][2]};
  double r1[3] = {m[0][1], m[1][1] - lam, m[1][2]};
  double r2[3] = {m[0][2], m[1][2], m[2][2] - lam};
  double c[3][3];
  cross3(r0, r1, c[0]);
  cross3(r0, r2, c[1]);
  cross3(r1, r2, c[2]);
  double len2[3] = {dot3(c[0], c[0]), dot3(c[1], c[1]), dot3(c[2], c[2])};
  int best = 0;
  if (len2[1] > len2[best])
    best = 1;
  if (len2[2] > len2[best])
    best = 2;
  if (!(len2[best] > 0.0)) { /* rank < 2 only through rounding: any axis is as good */
    out[0] = 1.0;
    out[1] = out[2] = 0.0;
    return;
  }
  double inv = 1.0 / sqrt(len2[best]);
  for (int i = 0; i < 3; i++)
    out[i] = c[best][i] * inv;
}

/* Unit eigenvector of eigenvalue lam, orthogonal to the unit eigenvector w already found: restrict
 * A - lam I to the plane spanned by an orthonormal pair (u, v) orthogonal to w; the 2x2 matrix
 * [[m00, m01], [m01, m11]] is singular, and its null vector (s, t) gives s u + t v. The row with
 * the largest entry is used, scaled so that the division is by the largest magnitude. */
static void evec_in_plane(double m[3][3], const double w[3], double lam, double out[3]) {
  double u[3], v[3];
  if (fabs(w[0]) > fabs(w[1])) {
    double inv = 1.0 / sqrt(w[0] * w[0] + w[2] * w[2]);
    u[0] = -w[2] * inv;
    u[1] = 0.0;
    u[2] = w[0] * inv;
  } else {
    double inv = 1.0 / sqrt(w[1] * w[1] + w[2] * w[2]);
    u[0] = 0.0;
    u[1] = w[2] * inv;
    u[2] = -w[1] * inv;
  }
  cross3(w, u, v);
  double au[3], av[3];
  matvec3(m, u, au);
  matvec3(m, v, av);
  double m00 = dot3(u, au) - lam, m01 = dot3(u, av), m11 = dot3(v, av) - lam;
  double a00 = fabs(m00), a01 = fabs(m01), a11 = fabs(m11);
  double s, t; /* out = s u - t v */
  if (a00 >= a11) {
    if (!(fmax(a00, a01) > 0.0)) {
      s = 1.0, t = 0.0; /* the whole plane is an eigenspace */
    } else if (a00 >= a01) {
      double r = m01 / m00;
      t = 1.0 / sqrt(1.0 + r * r);
      s = r * t;
    } else {
      double r = m00 / m01;
      s = 1.0 / sqrt(1.0 + r * r);
      t = r * s;
    }
  } else {
    if (!(fmax(a11, a01) > 0.0)) {
      s = 1.0, t = 0.0;
    } else if (a11 >= a01) {
      double r = m01 / m11;
      s = 1.0 / sqrt(1.0 + r * r);
      t = r * s;
    } else {
      double r = m11 / m01;
      t = 1.0 / sqrt(1.0 + r * r);
      s = r * t;
    }
  }
  for (int i = 0; i < 3; i++)
    out[i] = s * u[i] - t * v[i];
}

/* Diagonal matrix: eigenvalues are the diagonal, eigenvectors the axes. The smallest is the axis of
 * the strictly smallest entry, else z; the other two follow in ascending order. */
static void eig_diagonal(const double d[3], double eval[3], double evec[3][3]) {
  int lo;
  if (d[0] < d[1] && d[0] < d[2])
    lo = 0;
  else if (d[1] < d[0] && d[1] < d[2])
    lo = 1;
  else
    lo = 2;
  int a = (lo + 1) % 3, b = (lo + 2) % 3;
  if (d[b] < d[a]) {
    int tmp = a;
    a = b;
    b = tmp;
  }
  const int order[3] = {lo, a, b};
  for (int i = 0; i < 3; i++) {
    eval[i] = d[order[i]];
    for (int j = 0; j < 3; j++)
      evec[i][j] = j == order[i] ? 1.0 : 0.0;
  }
}

void eig3_sym(const double a[6], double eval[3], double evec[3][3]) {
  ASSERT(a && eval && evec);
  for (int i = 0; i < 6; i++)
    ASSERT(isfinite(a[i]));
  double off2 = a[1] * a[1] + a[2] * a[2] + a[4] * a[4];
  if (off2 == 0.0) {
    const double d[3] = {a[0], a[3], a[5]};
    eig_diagonal(d, eval, evec);
    return;
  }
  double scale = 0.0;
  for (int i = 0; i < 6; i++)
    scale = fmax(scale, fabs(a[i]));
  double m[3][3] = {{a[0] / scale, a[1] / scale, a[2] / scale},
                    {a[1] / scale, a[3] / scale, a[4] / scale},
                    {a[2] / scale, a[4] / scale, a[5] / scale}};
  off2 = m[0][1] * m[0][1] + m[0][2] * m[0][2] + m[1][2] * m[1][2];
  double q = (m[0][0] + m[1][1] + m[2][2]) / 3.0;
  double b00 = m[0][0] - q, b11 = m[1][1] - q, b22 = m[2][2] - q;
  double p = sqrt((b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * off2) / 6.0);
  /* det(B) with B = (A - qI) / p, by cofactors of the first row */
  double c00 = b11 * b22 - m[1][2] * m[1][2];
  double c01 = m[0][1] * b22 - m[1][2] * m[0][2];
  double c02 = m[0][1] * m[1][2] - b11 * m[0][2];
  double half_det = 0.5 * (b00 * c00 - m[0][1] * c01 + m[0][2] * c02) / (p * p * p);
  half_det = fmin(fmax(half_det, -1.0), 1.0);
  double angle = acos(half_det) / 3.0;
  const double two_thirds_pi = 2.09439510239319549;
  double beta2 = 2.0 * cos(angle), beta0 = 2.0 * cos(angle + two_thirds_pi), beta1 = -(beta0 + beta2);
  double lam[3] = {q + p * beta0, q + p * beta1, q + p * beta2};
  if (half_det >= 0.0) { /* the largest eigenvalue is the best separated */
    evec_by_rows(m, lam[2], evec[2]);
    evec_in_plane(m, evec[2], lam[1], evec[1]);
    cross3(evec[1], evec[2], evec[0]);
  } else {
    evec_by_rows(m, lam[0], evec[0]);
    evec_in_plane(m, evec[0], lam[1], evec[1]);
    cross3(evec[0], evec[1], evec[2]);
  }
  /* The trigonometric formula loses half the digits of the two eigenvalues of a nearly repeated pair
   * (acos near +-1); their Rayleigh quotients are exact to rounding. Rounding may not reorder them. */
  for (int i = 0; i < 3; i++) {
    double mv[3];
    matvec3(m, evec[i], mv);
    eval[i] = dot3(evec[i], mv) * scale;
  }
  eval[1] = fmax(eval[1], eval[0]);
  eval[2] = fmax(eval[2], eval[1]);
}
