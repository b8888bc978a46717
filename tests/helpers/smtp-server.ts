import { readFileSync } from 'node:fs';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

// A real SMTP server for the mail tests (the smtp-server package) on 127.0.0.1 and a random
// port. It can offer STARTTLS or TLS from the first byte with a certificate from
// deploy/pki/private-ca.sh, require AUTH PLAIN/LOGIN, refuse a recipient (550), answer 451 to the
// next messages, and stop and start again on the same port. Every accepted message is parsed
// with mailparser; the counters show what reached the server even when nothing was accepted.

export interface SmtpTestServerOptions {
  /** Without it the server offers no STARTTLS and speaks only in clear. */
  tls?: { keyFile: string; certFile: string; mode: 'starttls' | 'implicit' };
  /** AUTH PLAIN/LOGIN is required with exactly these credentials; anything else gets 535. */
  auth?: { user: string; password: string };
  /** A careless server: its 535 reply repeats the password it was given, in clear and as AUTH PLAIN base64. */
  echoCredentials?: boolean;
}

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The session was encrypted (STARTTLS or implicit TLS) when the message came. */
  secure: boolean;
  /** The user the session authenticated as. */
  user: string | undefined;
  mail: ParsedMail;
}

export interface SmtpTestServer {
  port: number;
  received: ReceivedMail[];
  /** Commands that reached the server, whether or not it accepted them. */
  counts: { auth: number; mailFrom: number };
  /** RCPT TO for this address gets "550 no such user". */
  rejectRecipient: (address: string) => void;
  /** The next `count` messages get a temporary 451 after their data. */
  failNext: (count: number) => void;
  /** Stops listening and drops open connections (an SMTP server that went down). */
  stop: () => Promise<void>;
  /** Listens again on the same port. */
  start: () => Promise<void>;
}

function smtpError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

export async function startSmtpServer(options: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
  const received: ReceivedMail[] = [];
  const counts = { auth: 0, mailFrom: 0 };
  const rejected = new Set<string>();
  let failures = 0;
  const { tls, auth } = options;

  const serverOptions: SMTPServerOptions = {
    logger: false,
    disableReverseLookup: true,
    // Idle pooled client connections are cut at once on stop(), as a crashed server would.
    closeTimeout: 100,
    secure: tls?.mode === 'implicit',
    ...(tls ? { key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) } : {}),
    disabledCommands: [...(tls ? [] : ['STARTTLS']), ...(auth ? [] : ['AUTH'])],
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !auth,
    // Without TLS the server would accept a password in clear: a client that sent one would be seen doing it.
    allowInsecureAuth: !tls,
    onAuth(attempt, _session, callback) {
      counts.auth++;
      if (auth && attempt.username === auth.user && attempt.password === auth.password) return callback(null, { user: attempt.username });
      const echo = options.echoCredentials ? ` for ${attempt.password} (${Buffer.from(`\0${attempt.username}\0${attempt.password}`).toString('base64')})` : '';
      callback(smtpError(535, `5.7.8 Authentication credentials invalid${echo}`));
    },
    onMailFrom(_address, _session, callback) {
      counts.mailFrom++;
      callback();
    },
    onRcptTo(address, _session, callback) {
      callback(rejected.has(address.address.toLowerCase()) ? smtpError(550, '5.1.1 No such user here') : undefined);
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          if (failures > 0) {
            failures--;
            return callback(smtpError(451, '4.3.0 Temporary local problem, try again later'));
          }
          const { mailFrom, rcptTo } = session.envelope;
          received.push({ envelope: { from: mailFrom ? mailFrom.address : '', to: rcptTo.map((r) => r.address) }, secure: session.secure, user: session.user as string | undefined, mail });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  };

  const listen = async (port: number) => {
    const next = new SMTPServer(serverOptions);
    // Connection errors surface here: a client that drops the connection (an aborted send) is expected.
    next.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      next.server.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    return next;
  };
  let server = await listen(0);
  const { port } = server.server.address() as { port: number };

  return {
    port,
    received,
    counts,
    rejectRecipient: (address) => rejected.add(address.toLowerCase()),
    failNext: (count) => {
      failures = count;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
    start: async () => {
      server = await listen(port);
    },
  };
}
