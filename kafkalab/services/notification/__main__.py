"""`python -m kafkalab.services.notification`: one replica of the notification service (port 8105)."""

from kafkalab.services.notification.service import NotificationService
from kafkalab.services.runtime import main

if __name__ == "__main__":
    main(NotificationService)
