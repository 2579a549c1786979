export declare function postgresBinDir(): string | null;
export declare function redisServerPath(): string | null;
