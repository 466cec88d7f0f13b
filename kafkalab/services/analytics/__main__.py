"""`python -m kafkalab.services.analytics`: one replica of the analytics service (port 8106)."""

from kafkalab.services.analytics.app import main

if __name__ == "__main__":
    main()
