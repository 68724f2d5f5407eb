FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_MANIFEST=true
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home civic
WORKDIR /app
COPY pyproject.toml README.md ./
COPY civic civic
COPY core core
COPY surveys surveys
COPY analytics analytics
COPY negotiation negotiation
COPY exports exports
COPY api api
COPY studio studio
COPY results results
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build-only python manage.py compilemessages -l fr -v0 \
    && SECRET_KEY=build-only python manage.py collectstatic --no-input -v0 \
    && mkdir -p /app/media /app/var/exports && chown -R civic /app/media /app/var
USER civic
EXPOSE 8000
CMD ["gunicorn", "civic.wsgi", "-b", "0.0.0.0:8000", "-k", "gthread", "-w", "3", "--threads", "8", "--access-logfile", "-", "--logger-class", "civic.logs.AccessLogger"]
