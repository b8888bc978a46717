// An error an administrator can act on: printed as it is (no stack), with the exit code the
// command ends with (2: the command line or the configuration is wrong; 1: the command failed).

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}
