/** The operator dashboard as the browser suites open it: logged in with the token, its live feed connected. */
import { expect, type Page } from '@playwright/test';

export async function openDashboard(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard`);
  await page.getByTestId('token').fill(token);
  await page.getByTestId('login').click();
  await expect(page.getByTestId('live')).toHaveText('live');
}
