#!/bin/sh
# Sets up the CUPS queue the printing tests print through: a cups-pdf queue
# whose output PDF "stands for the paper". Idempotent; run as root.
#
#   scripts/ci/cups-setup.sh            # queue skranke-test
#   SKRANKE_TEST_PRINTER=q scripts/ci/cups-setup.sh
#
# - cupsd keeps no job files (PreserveJobFiles No), as the deployment notes
#   require of every desk: no copy of a printed password in the spool.
# - The queue's PDFs land in /var/spool/cups-pdf-QUEUE, named job_N-TITLE.pdf
#   (cups-pdf reads a per-queue config /etc/cups/cups-pdf-QUEUE.conf when
#   the device URI is cups-pdf:/QUEUE).
# - CUPS turns the PDF into PostScript for cups-pdf, which makes a PDF of it
#   again with Ghostscript. Only pdftocairo (poppler) keeps the text
#   extractable through that round trip, so the queue is told to use it;
#   the tests read the output's text with pdftotext.
# - cupsd is started if it is not running.
set -eu

QUEUE="${SKRANKE_TEST_PRINTER:-skranke-test}"
OUT="/var/spool/cups-pdf-$QUEUE"
CUPSD_CONF=/etc/cups/cupsd.conf

if [ "$(id -u)" -ne 0 ]; then
    echo "cups-setup.sh: run as root (it edits /etc/cups and starts cupsd)" >&2
    exit 1
fi
for tool in cupsd lpadmin lpstat pdftocairo; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "cups-setup.sh: $tool not found: apt-get install cups printer-driver-cups-pdf poppler-utils" >&2
        exit 1
    }
done
PPD=$(ls /usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd /usr/share/ppd/cups-pdf/CUPS-PDF*.ppd 2>/dev/null | head -n 1 || true)
if [ -z "$PPD" ] || [ ! -x /usr/lib/cups/backend/cups-pdf ]; then
    echo "cups-setup.sh: the cups-pdf backend is missing: apt-get install printer-driver-cups-pdf" >&2
    exit 1
fi

changed=0
if grep -q '^PreserveJobFiles No$' "$CUPSD_CONF"; then
    :
elif grep -q '^PreserveJobFiles' "$CUPSD_CONF"; then
    sed -i 's/^PreserveJobFiles.*/PreserveJobFiles No/' "$CUPSD_CONF"
    changed=1
else
    echo 'PreserveJobFiles No' >>"$CUPSD_CONF"
    changed=1
fi

mkdir -p "$OUT"
chmod 0700 "$OUT"
cat >"/etc/cups/cups-pdf-$QUEUE.conf" <<CONF
# Written by scripts/ci/cups-setup.sh for the printing tests.
Out $OUT
AnonDirName $OUT
Label 2
TitlePref 1
Grp root
CONF

running() { lpstat -r 2>/dev/null | grep -q 'is running'; }
if running; then
    if [ "$changed" -eq 1 ]; then
        # cupsd rereads its configuration on SIGHUP.
        pid=$(cat /run/cups/cupsd.pid 2>/dev/null || cat /var/run/cups/cupsd.pid 2>/dev/null || true)
        [ -n "$pid" ] && kill -HUP "$pid" && sleep 2
    fi
else
    cupsd
fi
i=0
until running; do
    i=$((i + 1))
    if [ "$i" -gt 50 ]; then
        echo "cups-setup.sh: cupsd did not start" >&2
        exit 1
    fi
    sleep 0.2
done

lpadmin -p "$QUEUE" -E -v "cups-pdf:/$QUEUE" -P "$PPD" -o pdftops-renderer-default=pdftocairo 2>/dev/null
cupsenable "$QUEUE" 2>/dev/null || true
cupsaccept "$QUEUE" 2>/dev/null || true
echo "cups-setup.sh: queue $QUEUE ready, output in $OUT"
