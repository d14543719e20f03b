#!/bin/sh
# Records the job's status so far (PARAM_STATUS: pass or fail) for a later
# pmguard notify step: in $BASH_ENV, which the next step's bash reads, and in
# a file of this job's own, for images without bash, whose steps run /bin/sh
# and never read $BASH_ENV (pmguard reads the same path: jobenv.StatusFile).
#
# POSIX sh, like install.sh.
echo "export PMGUARD_JOB_STATUS=${PARAM_STATUS}" >> "$BASH_ENV"
if [ -n "${CIRCLE_WORKFLOW_JOB_ID:-}" ]; then
  echo "${PARAM_STATUS}" > "${TMPDIR:-/tmp}/pmguard-job-status-${CIRCLE_WORKFLOW_JOB_ID}"
fi
