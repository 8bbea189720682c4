"""tf-nst command line (`python cli.py --help`); the commands live in tf_nst/cli/.

The same CLI is installed as `tf-nst` by `pip install .`.
"""

from tf_nst.cli import main

if __name__ == "__main__":
    main()
