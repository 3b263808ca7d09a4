"""The words of a LocustTest's status, defined once: phases, condition types and reasons.

The controller writes them, the metrics count them and the API reference
(docs/api-reference.md) documents them from the ``meaning`` declared here. A new phase,
condition type or reason is added here, under its condition type, with its meaning;
the reference operator keeps the same words in its ``conditions.go``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- phases ------------------------------------------------------------------------------

PENDING: Final = "Pending"
RUNNING: Final = "Running"
SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
# In the order a test goes through them; api/status.py's Phase literal lists the same.
PHASES: Final = (PENDING, RUNNING, SUCCEEDED, FAILED)
# A test in a terminal phase is final: its status is frozen and its children never healed.
TERMINAL_PHASES: Final = frozenset({SUCCEEDED, FAILED})


@dataclass(frozen=True)
class Documented:
    """A status word and what it means (rendered into the API reference)."""

    word: str
    meaning: str


@dataclass(frozen=True)
class Reason(Documented):
    """A condition reason, with the condition status it is reported with."""

    status: str  # "True", "False", or "True / False" for a reason used with both


@dataclass(frozen=True)
class ConditionType(Documented):
    reasons: tuple[Reason, ...]


PHASE_MEANINGS: Final = (
    Documented(
        PENDING,
        "Children are being created (or recreated), or the master pod is not running yet.",
    ),
    Documented(RUNNING, "The master Job has a running (or ready) pod."),
    Documented(SUCCEEDED, "The master Job completed. Final."),
    Documented(
        FAILED,
        "The master Job failed (final), or a pod problem outlasted the grace period. A test "
        "failed by pods that never started (a missing ConfigMap or Secret, an image pull "
        "error, an unschedulable pod) resumes as Running if they start later; one failed by "
        "containers that ran and failed stays Failed.",
    ),
)

# --- Ready: the children exist -------------------------------------------------------------

READY: Final = "Ready"
RESOURCES_CREATING: Final = "ResourcesCreating"
RESOURCES_CREATED: Final = "ResourcesCreated"
RESOURCES_FAILED: Final = "ResourcesFailed"

_READY = ConditionType(
    READY,
    "The Service and both Jobs exist.",
    (
        Reason(RESOURCES_CREATING, "Being created, or recreated after a deletion.", "False"),
        Reason(RESOURCES_CREATED, "All resources created.", "True"),
        Reason(
            RESOURCES_FAILED,
            "Creating a child failed (the message says why), or the test failed.",
            "False",
        ),
    ),
)

# --- WorkersConnected ----------------------------------------------------------------------

WORKERS_CONNECTED: Final = "WorkersConnected"
WAITING_FOR_WORKERS: Final = "WaitingForWorkers"
ALL_WORKERS_CONNECTED: Final = "AllWorkersConnected"
WORKERS_MISSING: Final = "WorkersMissing"

_WORKERS_CONNECTED = ConditionType(
    WORKERS_CONNECTED,
    "Active worker pods against `spec.worker.replicas` (message `N/M workers connected`); "
    "while the Locust master's web API answers, the workers connected as the master counts "
    "them.",
    (
        Reason(WAITING_FOR_WORKERS, "The worker Job does not exist yet.", "False"),
        Reason(ALL_WORKERS_CONNECTED, "As many active worker pods as expected.", "True"),
        Reason(WORKERS_MISSING, "Fewer active worker pods than expected.", "False"),
    ),
)

# --- TestCompleted -------------------------------------------------------------------------

TEST_COMPLETED: Final = "TestCompleted"
TEST_IN_PROGRESS: Final = "TestInProgress"
TEST_SUCCEEDED: Final = "TestSucceeded"
TEST_FAILED: Final = "TestFailed"

_TEST_COMPLETED = ConditionType(
    TEST_COMPLETED,
    "Whether the test has finished.",
    (
        Reason(TEST_IN_PROGRESS, "Not started yet, or running.", "False"),
        Reason(TEST_SUCCEEDED, "The master Job completed.", "True"),
        Reason(
            TEST_FAILED,
            "The master Job failed (the message carries the Job's reason), or a pod problem "
            "outlasted the grace period (the message is PodsHealthy's).",
            "True",
        ),
    ),
)

# --- PodsHealthy (the reference operator's reasons) ----------------------------------------

PODS_HEALTHY: Final = "PodsHealthy"
PODS_STARTING: Final = "PodsStarting"
# PodsHealthy is both the condition type and its healthy reason, as in the reference.
PODS_HEALTHY_REASON: Final = "PodsHealthy"
CONFIGURATION_ERROR: Final = "ConfigurationError"
IMAGE_PULL_ERROR: Final = "ImagePullError"
SCHEDULING_ERROR: Final = "SchedulingError"
CRASH_LOOP_BACK_OFF: Final = "CrashLoopBackOff"
INITIALIZATION_ERROR: Final = "InitializationError"
# A git or archive test source (api/sources.py) the fetcher init container could not put in
# place; the fetcher (sourcefetch.py) reports the same words in its termination message.
SOURCE_UNREACHABLE: Final = "SourceUnreachable"
SOURCE_NOT_FOUND: Final = "SourceNotFound"
SOURCE_REF_NOT_FOUND: Final = "SourceRefNotFound"
SOURCE_AUTH_FAILED: Final = "SourceAuthFailed"
SOURCE_DIGEST_MISMATCH: Final = "SourceDigestMismatch"
SOURCE_TOO_LARGE: Final = "SourceTooLarge"
SOURCE_INVALID: Final = "SourceInvalid"
DEPENDENCY_INSTALL_FAILED: Final = "DependencyInstallFailed"
SOURCE_FETCH_FAILED: Final = "SourceFetchFailed"
_SOURCE_FAILURES: Final = (
    Reason(
        SOURCE_UNREACHABLE,
        "The test source's host cannot be reached (DNS, connection, TLS, timeout, a 5xx).",
        "False",
    ),
    Reason(SOURCE_NOT_FOUND, "No repository or archive at the source's URL (404).", "False"),
    Reason(
        SOURCE_REF_NOT_FOUND,
        "testFiles.git.ref is no branch, tag or commit of the repository (the message lists "
        "some that are).",
        "False",
    ),
    Reason(
        SOURCE_AUTH_FAILED,
        "The source refused the credentials, or needs some (401/403, SSH key or host key "
        "rejected): check testFiles.<source>.credentials.",
        "False",
    ),
    Reason(
        SOURCE_DIGEST_MISMATCH,
        "The archive's SHA-256 differs from testFiles.archive.sha256 (both in the message).",
        "False",
    ),
    Reason(
        SOURCE_TOO_LARGE,
        "The archive, unpacked archive or checkout is over the operator's limit "
        "(TEST_SOURCE_MAX_SIZE).",
        "False",
    ),
    Reason(
        SOURCE_INVALID,
        "The source is unusable: an unreadable archive, an unsafe path in it, a subPath "
        "that is no directory.",
        "False",
    ),
    Reason(
        DEPENDENCY_INSTALL_FAILED,
        "pip could not install the source's requirements.txt or testFiles.dependencies "
        "(pip's error in the message).",
        "False",
    ),
    Reason(SOURCE_FETCH_FAILED, "The fetcher failed otherwise (the message says how).", "False"),
)
SOURCE_FAILURE_REASONS: Final = tuple(reason.word for reason in _SOURCE_FAILURES)

# When pods fail in several ways, the condition reports the most actionable one.
FAILURE_PRIORITY: Final = (
    CONFIGURATION_ERROR,
    IMAGE_PULL_ERROR,
    SCHEDULING_ERROR,
    *SOURCE_FAILURE_REASONS,
    CRASH_LOOP_BACK_OFF,
    INITIALIZATION_ERROR,
)
# Pods that cannot start yet: they start by themselves once the cause is fixed outside the
# LocustTest (create the ConfigMap or pull Secret, free some capacity). Past the grace
# period they fail the test like any pod problem, but such a test resumes when its pods
# start after all (the FAQ's "the operator detects recovery automatically"). The other
# failures are containers that ran and failed: final.
WAITING_FAILURES: Final = frozenset({CONFIGURATION_ERROR, IMAGE_PULL_ERROR, SCHEDULING_ERROR})

_WAITS = (
    "Fails the test past the grace period; the test resumes if the pods start once the "
    "cause is fixed."
)
_PODS_HEALTHY = ConditionType(
    PODS_HEALTHY,
    "Diagnosis of the test's pods, reported only after a grace period (default "
    "2 minutes, counted from the oldest pod). With several problems the first of "
    + ", ".join(FAILURE_PRIORITY)
    + " is reported.",
    (
        Reason(
            PODS_STARTING,
            "No pods yet, or some not up yet within the grace period (never on a finished test).",
            "True",
        ),
        Reason(PODS_HEALTHY_REASON, "No problem found.", "True"),
        Reason(
            CONFIGURATION_ERROR,
            "A container cannot be configured (CreateContainerConfigError, typically a "
            "missing ConfigMap or Secret) or a referenced ConfigMap is missing; the "
            "message names what to create. " + _WAITS,
            "False",
        ),
        Reason(
            IMAGE_PULL_ERROR,
            "ErrImagePull, ImagePullBackOff or InvalidImageName. " + _WAITS,
            "False",
        ),
        Reason(SCHEDULING_ERROR, "A pod cannot be scheduled. " + _WAITS, "False"),
        *(
            Reason(r.word, r.meaning + " Fails the test for good.", r.status)
            for r in _SOURCE_FAILURES
        ),
        Reason(
            CRASH_LOOP_BACK_OFF,
            "A Locust container crash-loops or exited with a non-zero code. Fails the test "
            "for good.",
            "False",
        ),
        Reason(
            INITIALIZATION_ERROR,
            "An init container failed, or the metrics exporter sidecar cannot start. "
            "Fails the test for good.",
            "False",
        ),
    ),
)

# --- SpecDrifted ---------------------------------------------------------------------------

SPEC_DRIFTED: Final = "SpecDrifted"
SPEC_CHANGE_IGNORED: Final = "SpecChangeIgnored"

_SPEC_DRIFTED = ConditionType(
    SPEC_DRIFTED,
    "Present once the spec was edited after the children were built. Tests are "
    "immutable: the edit is not applied; delete and recreate the test to apply it.",
    (Reason(SPEC_CHANGE_IGNORED, "The children run an older generation.", "True"),),
)

# --- results (controller/results.py) --------------------------------------------------------

RESULTS_AVAILABLE: Final = "ResultsAvailable"
RESULTS_READ: Final = "ResultsRead"
MASTER_UNREACHABLE: Final = "MasterUnreachable"

_RESULTS_AVAILABLE = ConditionType(
    RESULTS_AVAILABLE,
    "Whether the operator reads the Locust master's statistics (status.results). Present "
    "once the master ran.",
    (
        Reason(RESULTS_READ, "The master's web API answers.", "True"),
        Reason(
            MASTER_UNREACHABLE,
            "The master's web API did not answer (web UI off, e.g. --headless in extraArgs; "
            "a NetworkPolicy; the master not listening): the message says what failed. The "
            "test goes on as without results: its phase follows the master Job.",
            "False",
        ),
    ),
)

THRESHOLDS_MET: Final = "ThresholdsMet"
THRESHOLDS_PASSED: Final = "ThresholdsPassed"
THRESHOLDS_FAILED: Final = "ThresholdsFailed"
THRESHOLDS_NOT_EVALUATED: Final = "ThresholdsNotEvaluated"

_THRESHOLDS_MET = ConditionType(
    THRESHOLDS_MET,
    "Present when spec.thresholds is set: how the final results fared against them.",
    (
        Reason(THRESHOLDS_PASSED, "Every threshold was met.", "True"),
        Reason(
            THRESHOLDS_FAILED,
            "A threshold was violated; the message names each violated metric, its value "
            "and the limit. The test is Failed.",
            "False",
        ),
        Reason(
            THRESHOLDS_NOT_EVALUATED,
            "Unknown: the test has not ended, or its final results were not captured (then "
            "the master Job's verdict stands).",
            "Unknown",
        ),
    ),
)

# --- all condition types -------------------------------------------------------------------

# In the order the status lists them.
CONDITION_TYPES: Final = (
    _READY,
    _WORKERS_CONNECTED,
    _TEST_COMPLETED,
    _PODS_HEALTHY,
    _SPEC_DRIFTED,
    _RESULTS_AVAILABLE,
    _THRESHOLDS_MET,
)
CONDITION_ORDER: Final = tuple(condition.word for condition in CONDITION_TYPES)
