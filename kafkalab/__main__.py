from kafkalab.cli.main import run

run()
