"""`python -m kafkalab.services.inventory`: run one replica of the inventory service."""

from kafkalab.services.inventory.service import InventoryService
from kafkalab.services.runtime import main

main(InventoryService)
