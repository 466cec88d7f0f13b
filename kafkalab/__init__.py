"""kafkalab: learn Apache Kafka by running a real cluster."""

import contextlib
import warnings

__version__ = "0.1.0"

# confluent-kafka's schema-registry client imports authlib's httpx integration, which warns on
# import about authlib's own internals: nothing a learner can act on. authlib installs an
# "always" filter when imported, so import it first and put ours in front of it.
with contextlib.suppress(ImportError):
    import authlib.deprecate  # noqa: F401
warnings.filterwarnings("ignore", message="The httpx module is deprecated")
