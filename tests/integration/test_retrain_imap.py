"""Training folders read from a real IMAP server: read-only, flags untouched."""

from __future__ import annotations

from pathlib import Path

from tests.dovecot import PASSWORD, Dovecot
from tests.test_cli import run


def test_retrain_reads_an_imap_training_folder_without_marking_it_read(
        dovecot: Dovecot, config_file: Path, isolated_env: dict[str, str]) -> None:
    client = dovecot.client()
    folder = "Triage/Job leads"
    if client.folder_exists(folder):
        client.delete_folder(folder)
    client.create_folder(folder)
    for i in range(6):
        client.append(folder, f"From: Hiring Manager {i} <hm{i}@lab{i}.example>\r\nSubject: Role for you\r\n"
                              f"Message-ID: <lead{i}@lab.example>\r\n\r\nKai, we would like to offer you an "
                              f"interview for research engineer role {i}. Are you free on Friday?\r\n".encode())
    config_file.write_text(
        config_file.read_text()
        + f'\n[imap]\nhost = "localhost"\nport = {dovecot.tls_port}\nusername = "test"\n'
          f'password_env = "MBX_TEST_PW"\nca_file = "{dovecot.ca_file}"\n'
          f'\n[classifier.train_folders]\n"{folder}" = "job_lead"\n'
    )
    done = run("retrain", "--dry-run", "--config", str(config_file), env={**isolated_env, "MBX_TEST_PW": PASSWORD})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{folder}: 6 messages as job_lead" in done.stderr
    client.select_folder(folder, readonly=True)
    flags = client.get_flags(client.search("ALL"))
    assert len(flags) == 6 and all(b"\\Seen" not in f for f in flags.values())
    client.logout()
