"""`python -m clarifai_client`: the command line (see clarifai_client.cli)."""

import sys

from clarifai_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
