"""`python -m kafkalab.services.payment`: run one replica of the payment service."""

from kafkalab.services.payment.service import PaymentService
from kafkalab.services.runtime import main

main(PaymentService)
