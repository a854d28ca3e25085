from deployctl.cli.main import main

main()
