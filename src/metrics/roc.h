/* roc.h - threshold-free ranking metrics: ROC AUC and average precision.
 *
 * Both equal scikit-learn's roc_auc_score and average_precision_score on the same input, ties
 * included (tied scores form one step of the curve; AUC is the Mann-Whitney U statistic with ties
 * counted one half; AP is sum over thresholds of (R_k - R_{k-1}) P_k, no interpolation).
 * O(n log n) time (one sort of the scores), O(n) extra memory; n up to 10^9 (int64_t).
 * Implementation: a radix sort of order-preserving integer keys, so O(n) in practice; extra memory
 * 8 bytes per score for float32 scores, 16 for float64. -0 and +0 tie. +-Inf scores are ordered as
 * the extremes (sklearn rejects them); NaN is an error.
 */
#ifndef AD3D_METRICS_ROC_H
#define AD3D_METRICS_ROC_H

#include <stdint.h>

#include "common/status.h"

/* scores (n), labels (n, 0 or non-zero). AD3D_EINVAL if only one class is present (the AUC is
 * undefined, as sklearn raises), AD3D_ENUMERIC if a score is NaN. */
ad3d_status roc_auc_f32(const float *scores, const uint8_t *labels, int64_t n, double *auc);
ad3d_status roc_auc_f64(const double *scores, const uint8_t *labels, int64_t n, double *auc);
/* AD3D_EINVAL if there is no positive. */
ad3d_status average_precision_f32(const float *scores, const uint8_t *labels, int64_t n, double *ap);
ad3d_status average_precision_f64(const double *scores, const uint8_t *labels, int64_t n, double *ap);

/* Both metrics from one sort (what the task table records: P-AUROC and AP of the same points).
 * auc or ap may be NULL: that metric is not computed and its conditions are not checked (a NULL auc
 * allows a single class; a NULL ap allows no positive). Same status codes as above. */
ad3d_status roc_auc_ap_f32(const float *scores, const uint8_t *labels, int64_t n, double *auc, double *ap);
ad3d_status roc_auc_ap_f64(const double *scores, const uint8_t *labels, int64_t n, double *auc, double *ap);

#endif
