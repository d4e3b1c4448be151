from wsdb.cli import main

main()
