import sys

from jaxcolor.cli import main

sys.exit(main())
