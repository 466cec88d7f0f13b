from kafkalab.console.server import main

main()
