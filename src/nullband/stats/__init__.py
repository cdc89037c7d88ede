"""Statistics for paired eval comparisons: intervals, tests, power, multiplicity, clusters.

Every random procedure takes a seed (or Generator) and stores the seed it used; values that
cannot be computed are None with a reason, never NaN. See docs/statistics.md.
"""

from nullband.stats._result import Interval, SeedLike
from nullband.stats.bootstrap import (
    BootstrapResult,
    CIMethod,
    bootstrap_ci,
    bootstrap_mean,
    exact_binary_bootstrap_pmf,
    exact_binary_percentile_interval,
    paired_binary_bootstrap,
)
from nullband.stats.cluster import ClusteredSE, clustered_se
from nullband.stats.epochs import EpochStats, case_means, effective_n, epoch_stats, weighted_mean
from nullband.stats.mcnemar import McNemarResult, mcnemar
from nullband.stats.multiplicity import benjamini_hochberg, holm
from nullband.stats.newcombe import newcombe_paired
from nullband.stats.paired import (
    Discordant,
    MetricKind,
    PairedSummary,
    paired_continuous,
    paired_summary,
)
from nullband.stats.power import (
    PowerResult,
    connor_mde,
    connor_power,
    connor_sample_size,
    discordance_from_marginals,
    miller_mde,
    miller_sample_size,
    unpaired_mde,
    unpaired_sample_size,
)
from nullband.stats.proportions import clopper_pearson, wilson
from nullband.stats.tests import TestResult, one_sided_t, paired_t, wilcoxon

__all__ = [
    "BootstrapResult",
    "CIMethod",
    "ClusteredSE",
    "Discordant",
    "EpochStats",
    "Interval",
    "McNemarResult",
    "MetricKind",
    "PairedSummary",
    "PowerResult",
    "SeedLike",
    "TestResult",
    "benjamini_hochberg",
    "bootstrap_ci",
    "bootstrap_mean",
    "case_means",
    "clopper_pearson",
    "clustered_se",
    "connor_mde",
    "connor_power",
    "connor_sample_size",
    "discordance_from_marginals",
    "effective_n",
    "epoch_stats",
    "exact_binary_bootstrap_pmf",
    "exact_binary_percentile_interval",
    "holm",
    "mcnemar",
    "miller_mde",
    "miller_sample_size",
    "newcombe_paired",
    "one_sided_t",
    "paired_binary_bootstrap",
    "paired_continuous",
    "paired_summary",
    "paired_t",
    "unpaired_mde",
    "unpaired_sample_size",
    "weighted_mean",
    "wilcoxon",
    "wilson",
]
