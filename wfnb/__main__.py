import sys

from wfnb.cli import main

sys.exit(main())
