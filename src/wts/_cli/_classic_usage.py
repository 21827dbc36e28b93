"""The usage texts of the classic tools, en-US, exactly as the Windows Server 2019 binaries print
them (``/?`` on stdout; after ``Invalid parameter(s)`` on stderr), line breaks, spacing and
Windows' own spelling ("subsytem") included: scripts and people compare them with the originals.

Sources: the captured output of quser.exe, qwinsta.exe, qprocess.exe, query.exe, logoff.exe,
msg.exe, rwinsta.exe, reset.exe and tskill.exe (10.0.14393 to 10.0.18362, en-US) that
docs/cli.md cites.  tsdiscon's and tscon's live beside their commands in ``_classic``.
"""

from __future__ import annotations

__all__ = [
    "LOGOFF_USAGE",
    "MSG_USAGE",
    "QPROCESS_USAGE",
    "QUERY_USAGE",
    "QUSER_USAGE",
    "QWINSTA_USAGE",
    "RESET_USAGE",
    "RWINSTA_USAGE",
    "TSKILL_USAGE",
]

QWINSTA_USAGE = """\
Display information about Remote Desktop Services sessions.

QUERY SESSION [sessionname | username | sessionid]
              [/SERVER:servername] [/MODE] [/FLOW] [/CONNECT] [/COUNTER] [/VM]

  sessionname         Identifies the session named sessionname.
  username            Identifies the session with user username.
  sessionid           Identifies the session with ID sessionid.
  /SERVER:servername  The server to be queried (default is current).
  /MODE               Display current line settings.
  /FLOW               Display current flow control settings.
  /CONNECT            Display current connect settings.
  /COUNTER            Display current Remote Desktop Services counters information.
  /VM                 Display information about sessions within virtual machines.


"""

QUSER_USAGE = """\
Display information about users logged on to the system.

QUERY USER [username | sessionname | sessionid] [/SERVER:servername]

  username            Identifies the username.
  sessionname         Identifies the session named sessionname.
  sessionid           Identifies the session with ID sessionid.
  /SERVER:servername  The server to be queried (default is current).


"""

QPROCESS_USAGE = """\
Displays information about processes.

QUERY PROCESS [* | processid | username | sessionname | /ID:nn | programname]
  [/SERVER:servername]

  *                  Display all visible processes.
  processid          Display process specified by processid.
  username           Display all processes belonging to username.
  sessionname        Display all processes running at sessionname.
  /ID:nn             Display all processes running at session nn.
  programname        Display all processes associated with programname.
  /SERVER:servername The Remote Desktop Session Host server to be queried.

"""

QUERY_USAGE = """\
QUERY { PROCESS | SESSION | TERMSERVER | USER }

"""

LOGOFF_USAGE = """\
Terminates a session.

LOGOFF [sessionname | sessionid] [/SERVER:servername] [/V] [/VM]

  sessionname         The name of the session.
  sessionid           The ID of the session.
  /SERVER:servername  Specifies the Remote Desktop server containing the user
                      session to log off (default is current).
  /V                  Displays information about the actions performed.
  /VM                 Logs off a session on server or within virtual machine. The unique ID of the session needs to be specified.


"""

MSG_USAGE = """\
Send a message to a user.

MSG {username | sessionname | sessionid | @filename | *}
    [/SERVER:servername] [/TIME:seconds] [/V] [/W] [message]

  username            Identifies the specified username.
  sessionname         The name of the session.
  sessionid           The ID of the session.
  @filename           Identifies a file containing a list of usernames,
                      sessionnames, and sessionids to send the message to.
  *                   Send message to all sessions on specified server.
  /SERVER:servername  server to contact (default is current).
  /TIME:seconds       Time delay to wait for receiver to acknowledge msg.
  /V                  Display information about actions being performed.
  /W                  Wait for response from user, useful with /V.
  message             Message to send.  If none specified, prompts for it
                      or reads from stdin.


"""

RWINSTA_USAGE = """\
Reset the session subsytem hardware and software to known initial values.

RESET SESSION {sessionname | sessionid} [/SERVER:servername] [/V]

  sessionname         Identifies the session with name sessionname.
  sessionid           Identifies the session with ID sessionid.
  /SERVER:servername  The server containing the session (default is current).
  /V                  Display additional information.


"""

RESET_USAGE = """\
RESET { SESSION }

"""

TSKILL_USAGE = """\
Ends a process.

TSKILL processid | processname [/SERVER:servername] [/ID:sessionid | /A] [/V]

  processid           Process ID for the process to be terminated.
  processname         Process name to be terminated.
  /SERVER:servername  Server containing processID (default is current).
                         /ID or /A must be specified when using processname
                         and /SERVER
  /ID:sessionid       End process running under the specified session.
  /A                  End process running under ALL sessions.
  /V                  Display information about actions being performed.


"""
