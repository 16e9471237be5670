FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY detectors ./detectors
COPY alerting ./alerting
RUN pip install --no-cache-dir .
ENV SPENDWATCH_DATA_DIR=/var/lib/spendwatch
VOLUME /var/lib/spendwatch
EXPOSE 6066 8080
ENTRYPOINT ["spendwatch"]
CMD ["worker"]
