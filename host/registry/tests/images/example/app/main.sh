#!/bin/sh
echo "${GREETING:-hello} from $APP_HOME $*"
