"""`python -m kafkalab.services.user`: run one replica of the user service."""

from kafkalab.services.runtime import main
from kafkalab.services.user.service import UserService

main(UserService)
