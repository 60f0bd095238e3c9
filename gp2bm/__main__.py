from gp2bm.cli import main

main()
