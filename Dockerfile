# VIGILEOS Analytics: one image for JupyterLab, the Voila dashboards (`vigileos dashboard`)
# and scheduled reports (`vigileos report`), built from this project's wheel.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# Chromium prints the reports' PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation curl \
    && rm -rf /var/lib/apt/lists/*
# The working folder and the ones compose mounts volumes on belong to the user that runs
# the workbench (a folder made by WORKDIR or by a volume mount would belong to root).
RUN useradd --create-home --uid 1000 vigileos \
    && mkdir -p /home/vigileos/work/data /home/vigileos/work/reports \
    && chown -R vigileos:vigileos /home/vigileos/work
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY vigileos_analytics ./vigileos_analytics
COPY notebooks ./notebooks
COPY parameters ./parameters
# A regular (non-editable) install with the verified versions: what a user's pip install gives.
RUN pip install -c constraints.txt . && rm -rf /src
USER vigileos
WORKDIR /home/vigileos/work
# Editable copies of the notebooks and parameter files, and the settings that put them in use,
# so what JupyterLab shows is what reports and dashboards run.
RUN vigileos templates copy /home/vigileos/work
ENV VIGILEOS_REPORTS_DIR=/home/vigileos/work/notebooks/reports \
    VIGILEOS_DASHBOARDS_DIR=/home/vigileos/work/notebooks/dashboards \
    VIGILEOS_ALERT_RULES=/home/vigileos/work/parameters/alert_rules.yaml
EXPOSE 8888 8866
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]
