from ctrack.cli import main

main()
