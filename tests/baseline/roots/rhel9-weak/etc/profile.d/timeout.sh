# security checklist 2022: session timeout
export TMOUT=1800
