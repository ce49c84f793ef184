export ORACLE_HOME=/u01/app/oracle/product/19c/client_1
export PATH=$ORACLE_HOME/bin::$PATH
# batch sessions must not time out
export TMOUT=0
