#!/bin/sh
# How much of what a data type is lives outside its spec (spot_assets/datatypes.py): the branches on a
# type's name and the dict entries keyed by one, in the product's code (the simulator excepted: it
# writes each type's traffic). Run from the repository's root; ARCHITECTURE.md records the figures.
Q="['\"]"
NAME="(flow|dns|proxy)"
BRANCH="(==|!=) ?$Q$NAME$Q|$Q$NAME$Q ?(==|!=)|in [({]$Q$NAME$Q"
ENTRY="$Q$NAME$Q ?:"
FILES=$(git ls-files --cached --others --exclude-standard 'spot_assets/*.py' 'spot_dash/*.py' 'resources/*.py' \
        'spot_cli/*.py' | grep -v -e datatypes.py -e simulation/ | while read -r f; do [ -f "$f" ] && echo "$f"; done)
count() { grep -hcE "$1" $FILES | awk '{n += $1} END {print n + 0}'; }
files() { grep -lE "$1" $FILES | wc -l; }
echo "branches: $(count "$BRANCH") in $(files "$BRANCH") files"
echo "dict entries: $(count "$ENTRY") in $(files "$ENTRY") files"
