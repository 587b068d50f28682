"""One module per `slo` subcommand: HELP, add_arguments(parser), run(args, console) -> int."""
