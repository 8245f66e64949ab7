#!/bin/bash
# What apache/kafka's script of the same name runs: the health check of docker-compose.yml calls it by this path.
exec java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
	-Dlog4j.configuration=file:/opt/kafka/bin/log4j.properties -cp "/opt/kafka/libs/*" \
	kafka.admin.BrokerApiVersionsCommand "$@"
