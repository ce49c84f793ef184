# Written by shaobing baseline harden: idle interactive shells exit after 10 minutes.
TMOUT=600
readonly TMOUT
export TMOUT
