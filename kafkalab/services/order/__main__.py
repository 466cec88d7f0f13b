"""`python -m kafkalab.services.order`: run one replica of the order service."""

from kafkalab.services.order.service import OrderService
from kafkalab.services.runtime import main

main(OrderService)
