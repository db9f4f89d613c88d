/** The error envelope (libs/errors) for an error without field errors, whatever its detail says. */
export const envelope = (code: number, type: string) => ({ code, type, detail: expect.any(String), errors: null });
