import sys

from famcli.cli import main

sys.exit(main())
