"""Our exception types. Raised deep inside, rendered as one line at the CLI edge.

Every error carries a message (what went wrong, one sentence) and a hint (how to fix it), so
that the CLI can print `✘ message — hint` and exit 1 without a traceback.
"""

from __future__ import annotations


class KafkalabError(Exception):
    """Base of every error kafkalab reports to a user."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


class JavaNotFound(KafkalabError):
    hint = (
        "install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
    )


class JavaTooOld(KafkalabError):
    hint = "install Java 17 or newer and put it first on PATH, or set JAVA_HOME to it"


class MavenNotFound(KafkalabError):
    hint = "install Maven (e.g. `apt-get install maven`) or set KAFKALAB_MVN to its path"


class DownloadFailed(KafkalabError):
    hint = "check that Maven can reach Maven Central (proxy settings in ~/.m2/settings.xml), then run again"


class ChecksumMismatch(KafkalabError):
    hint = (
        "run `kafkalab cluster reset --jars --yes` to delete the cached jars and fetch them again"
    )


class PortInUse(KafkalabError):
    hint = "stop the program using it, or move kafkalab with KAFKALAB_BROKER_PORT / KAFKALAB_REGISTRY_PORT"


class InvalidChoice(KafkalabError):
    hint = "see `kafkalab --help`"


class ClusterNotRunning(KafkalabError):
    hint = "start it with `kafkalab cluster up`"


class ClusterStartFailed(KafkalabError):
    hint = "look at the broker log named above; `kafkalab cluster reset --yes` starts from a clean data dir"


class ClusterMismatch(KafkalabError):
    hint = "run `kafkalab cluster down` first, then `kafkalab cluster up` with the size you want"


class RegistryError(KafkalabError):
    hint = "see `kafkalab cluster status`; the registry log is under the data dir"
