# spendwatch: one image for the worker and the HTTP ingest.
#   docker build -t spendwatch .
#   docker run -e SPENDWATCH_CONFIG_FILE=/etc/spendwatch/spendwatch.yaml \
#     -v ./spendwatch.yaml:/etc/spendwatch/spendwatch.yaml:ro spendwatch worker
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY detectors ./detectors
COPY alerting ./alerting
RUN pip install --no-cache-dir . && useradd --system --uid 10001 spendwatch \
    && mkdir -p /var/lib/spendwatch /etc/spendwatch \
    && chown spendwatch /var/lib/spendwatch
COPY spendwatch.example.yaml /etc/spendwatch/spendwatch.example.yaml
ENV SPENDWATCH_DATA_DIR=/var/lib/spendwatch \
    SPENDWATCH_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER spendwatch
VOLUME /var/lib/spendwatch
EXPOSE 6066 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["spendwatch"]
CMD ["worker"]
